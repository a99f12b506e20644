/**
 * Runs policies the way the analyzer server does, without the Pulumi engine: builds the argument
 * bag a policy receives (props wrapped in @pulumi/policy's unknown-checking proxy, as in a real
 * preview), calls `validateResource`/`validateStack` and collects what they report.
 */
import * as policyRuntime from "@pulumi/policy";
import type {
  Policy,
  PolicyResource,
  PolicyResourceOptions,
  ResourceValidationArgs,
  ResourceValidationPolicy,
  StackValidationArgs,
  StackValidationPolicy,
} from "@pulumi/policy";
import type { RecordedResource } from "../../../infra/render/mocks";

/** The value the engine sends for a property that is unknown during preview (a string property). */
export const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";

// Exported at runtime by @pulumi/policy but missing from its type declarations.
const { unknownCheckingProxy } = policyRuntime as unknown as {
  unknownCheckingProxy: <T extends object>(props: T) => T;
};

export interface Fixture {
  /** Pulumi type token, e.g. kubernetes:apps/v1:Deployment. */
  type: string;
  /** Pulumi resource name. */
  name: string;
  props: object;
}

export interface Outcome {
  violations: string[];
  /** Set when the policy called notApplicable (not an error: the engine records it). */
  notApplicable?: string;
}

export interface StackOutcome {
  violations: { message: string; urn?: string }[];
  notApplicable?: string;
}

class NotApplicable extends Error {
  constructor(readonly reason: string) {
    super(reason);
  }
}

const OPTIONS: PolicyResourceOptions = {
  protect: false,
  ignoreChanges: [],
  aliases: [],
  customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 },
  additionalSecretOutputs: [],
};

export function urnOf(fixture: Pick<Fixture, "type" | "name">): string {
  return `urn:pulumi:test::agent-fleet::${fixture.type}::${fixture.name}`;
}

function pulumiTypeOf(resourceClass: object): unknown {
  return Reflect.get(resourceClass, "__pulumiType");
}

const notApplicable = (reason?: string): never => {
  throw new NotApplicable(reason ?? "");
};

function resourceArgs(fixture: Fixture, config: object): ResourceValidationArgs {
  const props = unknownCheckingProxy(structuredClone(fixture.props) as Record<string, unknown>);
  const isType: ResourceValidationArgs["isType"] = (resourceClass) =>
    pulumiTypeOf(resourceClass) === fixture.type;
  // The fixture's props are whatever the test wrote; the typed view is the policy's assumption.
  const asType: ResourceValidationArgs["asType"] = (resourceClass) =>
    isType(resourceClass) ? (props as never) : undefined;
  return {
    type: fixture.type,
    props,
    urn: urnOf(fixture),
    name: fixture.name,
    opts: OPTIONS,
    stackTags: new Map(),
    isType,
    asType,
    getConfig: <T extends object>() => structuredClone(config) as T,
    notApplicable,
  };
}

function validations(policy: ResourceValidationPolicy) {
  const v = policy.validateResource;
  if (v === undefined) throw new Error(`policy ${policy.name} has no validateResource`);
  return Array.isArray(v) ? v : [v];
}

export function isResourcePolicy(policy: Policy): policy is ResourceValidationPolicy {
  return "validateResource" in policy;
}

export function isStackPolicy(policy: Policy): policy is StackValidationPolicy {
  return "validateStack" in policy;
}

/** Runs a resource policy on one fixture with the given policy config. */
export async function runResourcePolicy(
  policy: ResourceValidationPolicy,
  fixture: Fixture,
  config: object = {},
): Promise<Outcome> {
  const outcome: Outcome = { violations: [] };
  for (const validate of validations(policy)) {
    try {
      await validate(resourceArgs(fixture, config), (message) => outcome.violations.push(message));
    } catch (e) {
      if (!(e instanceof NotApplicable)) throw e;
      outcome.notApplicable = e.reason;
    }
  }
  return outcome;
}

export interface StackFixture extends Fixture {
  /**
   * The resource's outputs, as AnalyzeStack receives them. Kubernetes objects: the live object
   * (with server defaults) and its managedFields. Default: `k8sOutputs(props)`.
   */
  outputs?: object;
}

/** The field manager the Kubernetes provider applies with (server-side apply). */
export const PROVIDER_FIELD_MANAGER = "pulumi-kubernetes-e2b1c3d";

/** managedFields' `fieldsV1` for an applied object: maps field by field; lists and scalars whole. */
function fieldsOf(value: unknown): object {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return {};
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [`f:${k}`, fieldsOf(v)]));
}

/**
 * The outputs the engine hands a stack policy after `pulumi up` for a Kubernetes object: the live
 * object, with `serverDefaults` applied, whose managedFields say that the provider's server-side
 * apply owns exactly the declared fields. The provider's own `__inputs` is an internal key the
 * engine strips, so it is not here.
 */
export function k8sOutputs(
  declared: object,
  serverDefaults: (live: Record<string, unknown>) => void = () => {},
) {
  const live = structuredClone(declared) as Record<string, unknown>;
  serverDefaults(live);
  const { metadata: _metadata, ...fields } = fieldsOf(declared) as Record<string, object>;
  const metadata = (live.metadata ?? {}) as Record<string, unknown>;
  const declaredMeta = (declared as { metadata?: object }).metadata;
  live.metadata = {
    ...metadata,
    managedFields: [
      {
        manager: PROVIDER_FIELD_MANAGER,
        operation: "Apply",
        apiVersion: typeof live.apiVersion === "string" ? live.apiVersion : "v1",
        fieldsType: "FieldsV1",
        fieldsV1: { ...(declaredMeta ? { "f:metadata": fieldsOf(declaredMeta) } : {}), ...fields },
      },
    ],
  };
  return live;
}

function stackResource(fixture: StackFixture): PolicyResource {
  const props = unknownCheckingProxy(structuredClone(fixture.outputs ?? k8sOutputs(fixture.props)));
  const isType: PolicyResource["isType"] = (resourceClass) => pulumiTypeOf(resourceClass) === fixture.type;
  const asType: PolicyResource["asType"] = (resourceClass) =>
    isType(resourceClass) ? (props as never) : undefined;
  return {
    type: fixture.type,
    props: props as Record<string, unknown>,
    urn: urnOf(fixture),
    name: fixture.name,
    opts: OPTIONS,
    dependencies: [],
    propertyDependencies: {},
    isType,
    asType,
  };
}

/** Runs a stack policy over the fixtures (as the stack's resources) with the given policy config. */
export async function runStackPolicy(
  policy: StackValidationPolicy,
  fixtures: StackFixture[],
  config: object = {},
): Promise<StackOutcome> {
  const outcome: StackOutcome = { violations: [] };
  const args: StackValidationArgs = {
    resources: fixtures.map(stackResource),
    stackTags: new Map(),
    getConfig: <T extends object>() => structuredClone(config) as T,
    notApplicable,
  };
  try {
    await policy.validateStack(args, (message, urn) =>
      outcome.violations.push(urn === undefined ? { message } : { message, urn }),
    );
  } catch (e) {
    if (!(e instanceof NotApplicable)) throw e;
    outcome.notApplicable = e.reason;
  }
  return outcome;
}

export interface PackOutcome {
  /** "[policy] resource: message" for every resource-policy violation. */
  resourceViolations: string[];
  /** "[policy] message" for every stack-policy violation. */
  stackViolations: string[];
  /** Policy evaluations run: resource policies × Kubernetes resources + stack policies. */
  evaluations: number;
}

/**
 * Runs a whole pack over a program's recorded resources, as `pulumi preview --policy-pack` does:
 * resource policies on each Kubernetes resource's inputs, stack policies on every resource's
 * outputs — `kubernetesOutputs(r)` for Kubernetes objects, the inputs for anything else.
 */
export async function runPack(
  policies: Policy[],
  resources: readonly RecordedResource[],
  kubernetesOutputs: (r: RecordedResource) => object,
): Promise<PackOutcome> {
  const outcome: PackOutcome = { resourceViolations: [], stackViolations: [], evaluations: 0 };
  const isKubernetes = (r: RecordedResource) => r.type.startsWith("kubernetes:");
  for (const policy of policies.filter(isResourcePolicy)) {
    for (const r of resources.filter(isKubernetes)) {
      const result = await runResourcePolicy(policy, { type: r.type, name: r.name, props: r.inputs });
      outcome.evaluations++;
      outcome.resourceViolations.push(...result.violations.map((v) => `[${policy.name}] ${r.name}: ${v}`));
    }
  }
  const stack = resources.map((r) => ({
    type: r.type,
    name: r.name,
    props: r.inputs,
    outputs: isKubernetes(r) ? kubernetesOutputs(r) : r.inputs,
  }));
  for (const policy of policies.filter(isStackPolicy)) {
    const result = await runStackPolicy(policy, stack);
    outcome.evaluations++;
    outcome.stackViolations.push(...result.violations.map((v) => `[${policy.name}] ${v.message}`));
  }
  return outcome;
}
