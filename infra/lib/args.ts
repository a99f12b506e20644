/**
 * Validation of component Args, the same for every component: collect every problem with the
 * property path it concerns, then throw them together, so one run shows the caller all of them.
 * The error is Pulumi's InputPropertiesError (property path + reason per problem), which the
 * engine prints property by property when a component runs behind a provider.
 */
import * as pulumi from "@pulumi/pulumi";

export interface ArgsProblem {
  /** Where in the Args, as written in TypeScript: `agent.maxReplicas`, `files[0].sha256`. */
  propertyPath: string;
  reason: string;
}

/** Every problem of one component's Args, in the order they were found. */
export class ComponentArgsError extends pulumi.InputPropertiesError {
  constructor(
    readonly component: string,
    readonly resourceName: string,
    problems: readonly ArgsProblem[],
  ) {
    super({
      message: `${component} "${resourceName}": ${problems.map((p) => `${p.propertyPath}: ${p.reason}`).join("; ")}`,
      errors: [...problems],
    });
    this.name = "ComponentArgsError";
  }
}

/** Collects the problems of one component's Args. */
export class ArgsProblems {
  private readonly found: ArgsProblem[] = [];

  constructor(
    /** The component's type name, e.g. "AgentPool". */
    private readonly component: string,
    /** The resource name the Args were given with. */
    private readonly resourceName: string,
  ) {}

  add(propertyPath: string, reason: string): void {
    this.found.push({ propertyPath, reason });
  }

  /** Throws one ComponentArgsError listing every problem found; returns when there is none. */
  throwIfAny(): void {
    if (this.found.length > 0) throw new ComponentArgsError(this.component, this.resourceName, this.found);
  }
}
