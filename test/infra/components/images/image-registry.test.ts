import * as pulumi from "@pulumi/pulumi";
import { describe, expect, it } from "vitest";
import { AGENT_TYPES } from "../../../../infra/catalog";
import {
  ecrLifecyclePolicy,
  IMAGE_NAMES,
  imageRepositoryName,
  ImageRegistry,
  validateImageRegistryArgs,
  type ImageRegistryArgs,
} from "../../../../infra/components/images/image-registry";
import { promiseOf } from "../../../../infra/render/mocks";
import { named, ofType, underMocks } from "../../support/under-mocks";

const AR_TYPE = "gcp:artifactregistry/repository:Repository";
const ECR_TYPE = "aws:ecr/repository:Repository";
const LIFECYCLE_TYPE = "aws:ecr/lifecyclePolicy:LifecyclePolicy";

async function resolved(registry: ImageRegistry) {
  const repositories = Object.fromEntries(
    await Promise.all(
      Object.entries(registry.repositories).map(async ([k, v]) => [k, await promiseOf(v)] as const),
    ),
  );
  return {
    repositories,
    push: await promiseOf(registry.pushCredentials),
    pushIsSecret: await pulumi.isSecret(registry.pushCredentials),
  };
}

describe("image names", () => {
  it("are the 12 agents and the router, each with its repository name", () => {
    expect(IMAGE_NAMES).toEqual([...AGENT_TYPES, "router"]);
    expect(imageRepositoryName("python")).toBe("agent-python");
    expect(imageRepositoryName("router")).toBe("router");
  });
});

describe("validateImageRegistryArgs", () => {
  const external = (over: Partial<Extract<ImageRegistryArgs["registry"], { kind: "external" }>>) => ({
    registry: {
      kind: "external" as const,
      server: "ghcr.io",
      repository: "ghcr.io/acme",
      username: "ci",
      password: "p",
      ...over,
    },
    images: ["router" as const],
  });

  it("accepts each kind", () => {
    expect(() => validateImageRegistryArgs("r", external({}))).not.toThrow();
    expect(() =>
      validateImageRegistryArgs("r", {
        registry: { kind: "ecr", region: "eu-west-1", repositoryPrefix: "agent-fleet/prod" },
        images: IMAGE_NAMES,
      }),
    ).not.toThrow();
  });

  it("names every problem with its field", () => {
    expect(() =>
      validateImageRegistryArgs("r", {
        registry: { kind: "artifact-registry", location: " ", repositoryId: "Agent_Fleet" },
        images: ["router", "router"],
        keepReleases: 0,
      }),
    ).toThrow(
      'ImageRegistry "r": registry.location: must not be empty; registry.repositoryId: "Agent_Fleet" must start with a letter and hold only lowercase letters, digits and \'-\'; images: an image is listed twice; keepReleases: must be a whole number >= 1 (got 0)',
    );
    expect(() =>
      validateImageRegistryArgs("r", {
        registry: { kind: "ecr", region: "", repositoryPrefix: "Agent-Fleet" },
        images: [],
      }),
    ).toThrow(
      'ImageRegistry "r": registry.region: must not be empty; registry.repositoryPrefix: "Agent-Fleet" is not an ECR repository path (lowercase segments separated by \'/\'); images: list at least one image',
    );
    expect(() =>
      validateImageRegistryArgs(
        "r",
        external({ server: "https://ghcr.io", repository: "docker.io/acme", username: "" }),
      ),
    ).toThrow(
      'ImageRegistry "r": registry.server: "https://ghcr.io" must be a registry host such as "ghcr.io", without a scheme; registry.repository: "docker.io/acme" must start with the server, e.g. "https://ghcr.io/<namespace>"; registry.username: must not be empty',
    );
  });
});

describe("ImageRegistry: Artifact Registry", () => {
  it("creates one Docker repository, mutable tags, cleanup of old release tags only", async () => {
    const { mocks, result } = await underMocks(async () => {
      const registry = new ImageRegistry("images-registry", {
        registry: {
          kind: "artifact-registry",
          location: "europe-west4",
          repositoryId: "agent-fleet",
          project: "agent-fleet-prod",
        },
        images: IMAGE_NAMES,
        releaseTagPrefix: "prod-",
        keepReleases: 20,
        labels: { env: "prod" },
      });
      return { registry, ...(await resolved(registry)) };
    });
    const repos = ofType(mocks, AR_TYPE);
    expect(repos).toHaveLength(1);
    const inputs = repos[0]!.inputs;
    expect(repos[0]!.name).toBe("images-registry-repository");
    expect(inputs.repositoryId).toBe("agent-fleet");
    expect(inputs.location).toBe("europe-west4");
    expect(inputs.project).toBe("agent-fleet-prod");
    expect(inputs.format).toBe("DOCKER");
    expect(inputs.dockerConfig).toEqual({ immutableTags: false });
    expect(inputs.labels).toEqual({ env: "prod" });
    expect(inputs.cleanupPolicyDryRun).toBe(false);
    expect(inputs.cleanupPolicies).toEqual([
      { id: "keep-recent-releases", action: "KEEP", mostRecentVersions: { keepCount: 20 } },
      {
        id: "delete-old-releases",
        action: "DELETE",
        condition: { tagState: "TAGGED", tagPrefixes: ["prod-"], olderThan: "2592000s" },
      },
    ]);
    expect(ofType(mocks, ECR_TYPE)).toHaveLength(0);

    expect(result.repositories.python).toBe(
      "europe-west4-docker.pkg.dev/agent-fleet-prod/agent-fleet/agent-python",
    );
    expect(result.repositories.router).toBe(
      "europe-west4-docker.pkg.dev/agent-fleet-prod/agent-fleet/router",
    );
    expect(Object.keys(result.repositories)).toHaveLength(13);
    // Pushes with a short-lived OAuth access token of the gcp provider's credentials.
    expect(result.push).toEqual({
      address: "europe-west4-docker.pkg.dev",
      username: "oauth2accesstoken",
      password: "mock-gcp-access-token",
    });
    expect(result.pushIsSecret).toBe(true);
    // GKE nodes pull with their service account: no imagePullSecret.
    expect(result.registry.pullCredentials).toBeUndefined();
    expect(result.registry.immutableTags).toBe(false);
  });

  it("deletes nothing when there is no release prefix to match", async () => {
    const { mocks } = await underMocks(
      () =>
        new ImageRegistry("r", {
          registry: { kind: "artifact-registry", location: "us", repositoryId: "fleet" },
          images: ["router"],
        }),
    );
    const inputs = named(mocks, AR_TYPE, "r-repository").inputs;
    expect(inputs.cleanupPolicies).toBeUndefined();
    expect(inputs.project).toBeUndefined();
  });
});

describe("ImageRegistry: ECR", () => {
  it("creates one repository per image: scan on push, immutable tags except the build cache, lifecycle", async () => {
    const { mocks, result } = await underMocks(async () => {
      const registry = new ImageRegistry("images-registry", {
        registry: { kind: "ecr", region: "eu-west-1", repositoryPrefix: "agent-fleet/prod" },
        images: IMAGE_NAMES,
        releaseTagPrefix: "prod-",
      });
      return { registry, ...(await resolved(registry)) };
    });
    const repos = ofType(mocks, ECR_TYPE);
    expect(repos.map((r) => r.inputs.name)).toEqual(
      IMAGE_NAMES.map((i) => `agent-fleet/prod/${imageRepositoryName(i)}`),
    );
    for (const repo of repos) {
      expect(repo.inputs.region).toBe("eu-west-1");
      expect(repo.inputs.imageScanningConfiguration).toEqual({ scanOnPush: true });
      expect(repo.inputs.imageTagMutability).toBe("IMMUTABLE_WITH_EXCLUSION");
      expect(repo.inputs.imageTagMutabilityExclusionFilters).toEqual([
        { filter: "buildcache", filterType: "WILDCARD" },
      ]);
      expect(repo.inputs.forceDelete).toBeUndefined();
    }
    const python = named(mocks, LIFECYCLE_TYPE, "images-registry-python-lifecycle").inputs;
    expect(python.repository).toBe("agent-fleet/prod/agent-python");
    expect(python.region).toBe("eu-west-1");
    expect(JSON.parse(python.policy as string)).toEqual({
      rules: [
        {
          rulePriority: 1,
          description: "keep the newest 30 release images",
          selection: {
            tagStatus: "tagged",
            tagPatternList: ["prod-*"],
            countType: "imageCountMoreThan",
            countNumber: 30,
          },
          action: { type: "expire" },
        },
      ],
    });
    expect(ofType(mocks, LIFECYCLE_TYPE)).toHaveLength(13);

    expect(result.repositories.frontend).toBe(
      "123456789012.dkr.ecr.eu-west-1.amazonaws.com/agent-fleet/prod/agent-frontend",
    );
    expect(result.push).toEqual({
      address: "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
      username: "AWS",
      password: "mock-ecr-token",
    });
    expect(result.pushIsSecret).toBe(true);
    expect(result.registry.pullCredentials).toBeUndefined();
    expect(result.registry.immutableTags).toBe(true);
  });

  it("lifecycle policy text", () => {
    expect(JSON.parse(ecrLifecyclePolicy("", 5))).toMatchObject({
      rules: [{ selection: { tagPatternList: ["*"], countNumber: 5 } }],
    });
  });
});

describe("ImageRegistry: external", () => {
  it("creates no cloud resource and exposes the credentials for an imagePullSecret", async () => {
    const { mocks, result } = await underMocks(async () => {
      const registry = new ImageRegistry("images-registry", {
        registry: {
          kind: "external",
          server: "ghcr.io",
          repository: "ghcr.io/agent-fleet",
          username: "agent-fleet-ci",
          password: "s3cret",
        },
        images: ["python", "router"],
      });
      const pull = registry.pullCredentials!;
      return {
        registry,
        ...(await resolved(registry)),
        pull: {
          server: await promiseOf(pulumi.output(pull.server)),
          username: await promiseOf(pulumi.output(pull.username)),
          password: await promiseOf(pulumi.output(pull.password)),
          passwordIsSecret: await pulumi.isSecret(pulumi.output(pull.password)),
        },
      };
    });
    expect(mocks.resources.filter((r) => r.custom)).toEqual([]);
    expect(result.repositories).toEqual({
      python: "ghcr.io/agent-fleet/agent-python",
      router: "ghcr.io/agent-fleet/router",
    });
    expect(result.push).toEqual({ address: "ghcr.io", username: "agent-fleet-ci", password: "s3cret" });
    expect(result.pushIsSecret).toBe(true);
    expect(result.pull).toEqual({
      server: "ghcr.io",
      username: "agent-fleet-ci",
      password: "s3cret",
      passwordIsSecret: true,
    });
    expect(result.registry.immutableTags).toBe(false);
  });
});
