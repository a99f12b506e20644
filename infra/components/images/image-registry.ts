/**
 * Where the fleet's images live: an Artifact Registry repository (GKE), one ECR repository per image,
 * or an external registry someone else runs. Exposes the repository of each image, the short-lived
 * credentials a build pushes with, and the credentials pods pull with when the nodes cannot.
 */
import * as aws from "@pulumi/aws";
import * as gcp from "@pulumi/gcp";
import * as pulumi from "@pulumi/pulumi";
import { IMAGE_NAMES, type ImageName } from "../../catalog";
import { ArgsProblems } from "../../lib/args";

export { IMAGE_NAMES, type ImageName };

/** The repository name of an image under its registry path: `agent-<type>` or `router`. */
export function imageRepositoryName(image: ImageName): string {
  return image === "router" ? "router" : `agent-${image}`;
}

/** The build cache lives next to the image, under this tag (`type=registry,ref=<repo>:buildcache`). */
export const BUILD_CACHE_TAG = "buildcache";

export type RegistrySpec =
  | {
      kind: "artifact-registry";
      /** Region or multi-region of the repository, e.g. "europe-west4". */
      location: string;
      /** Repository ID (a DNS label); every image is a package in it. */
      repositoryId: string;
      /** GCP project. Default: the gcp provider's project. */
      project?: string;
    }
  | {
      kind: "ecr";
      region: string;
      /** Path prefix of the repositories: `<prefix>/agent-python`. Use one per stack in a shared account. */
      repositoryPrefix: string;
    }
  | {
      kind: "external";
      /** Registry host the credentials are for, e.g. "ghcr.io". */
      server: string;
      /** Path the images go under, starting with the server: "ghcr.io/acme" → ghcr.io/acme/agent-python. */
      repository: string;
      username: string;
      /** Password or token (a Pulumi secret). Used to push, and by the pods to pull. */
      password: pulumi.Input<string>;
    };

/** Registry credentials; the same shape as AgentFleetArgs.imagePullCredentials. */
export interface RegistryCredentials {
  server: pulumi.Input<string>;
  username: pulumi.Input<string>;
  /** Always a Pulumi secret. */
  password: pulumi.Input<string>;
}

export interface ImageRegistryArgs {
  registry: RegistrySpec;
  /** The images to make room for (ECR creates one repository per image). */
  images: readonly ImageName[];
  /**
   * Tag prefix of release images (`<tag>-<source hash>`); only those are ever expired, never the
   * build cache, never untagged platform manifests of a multi-platform image. Default: none, and
   * then Artifact Registry deletes nothing and ECR counts every tag.
   */
  releaseTagPrefix?: string;
  /** Release images kept per image; older ones expire. Default 30. */
  keepReleases?: number;
  /** Labels (GCP) / tags (AWS) for the registry resources. */
  labels?: Record<string, string>;
}

/** Artifact Registry deletes release images older than this, beyond the newest `keepReleases`. */
export const RELEASE_MAX_AGE_DAYS = 30;

const REPOSITORY_ID = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
const ECR_PREFIX = /^[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*$/;

/** Validates ImageRegistryArgs; throws ComponentArgsError listing every problem by property path. */
export function validateImageRegistryArgs(name: string, args: ImageRegistryArgs): void {
  const problems = new ArgsProblems("ImageRegistry", name);
  const r = args.registry;
  switch (r.kind) {
    case "artifact-registry":
      if (r.location.trim() === "") problems.add("registry.location", "must not be empty");
      if (!REPOSITORY_ID.test(r.repositoryId)) {
        problems.add(
          "registry.repositoryId",
          `"${r.repositoryId}" must start with a letter and hold only lowercase letters, digits and '-'`,
        );
      }
      break;
    case "ecr":
      if (r.region.trim() === "") problems.add("registry.region", "must not be empty");
      if (!ECR_PREFIX.test(r.repositoryPrefix)) {
        problems.add(
          "registry.repositoryPrefix",
          `"${r.repositoryPrefix}" is not an ECR repository path (lowercase segments separated by '/')`,
        );
      }
      break;
    case "external":
      if (r.server.trim() === "" || r.server.includes("://")) {
        problems.add(
          "registry.server",
          `"${r.server}" must be a registry host such as "ghcr.io", without a scheme`,
        );
      }
      if (!r.repository.startsWith(`${r.server}/`)) {
        problems.add(
          "registry.repository",
          `"${r.repository}" must start with the server, e.g. "${r.server}/<namespace>"`,
        );
      }
      if (r.username.trim() === "") problems.add("registry.username", "must not be empty");
      break;
  }
  if (args.images.length === 0) problems.add("images", "list at least one image");
  if (new Set(args.images).size !== args.images.length) problems.add("images", "an image is listed twice");
  if (args.keepReleases !== undefined && (!Number.isInteger(args.keepReleases) || args.keepReleases < 1)) {
    problems.add("keepReleases", `must be a whole number >= 1 (got ${args.keepReleases})`);
  }
  problems.throwIfAny();
}

/** The ECR lifecycle policy: expire release images beyond the newest `keep`; touch nothing else. */
export function ecrLifecyclePolicy(releaseTagPrefix: string, keep: number): string {
  return JSON.stringify({
    rules: [
      {
        rulePriority: 1,
        description: `keep the newest ${keep} release images`,
        selection: {
          tagStatus: "tagged",
          tagPatternList: [`${releaseTagPrefix}*`],
          countType: "imageCountMoreThan",
          countNumber: keep,
        },
        action: { type: "expire" },
      },
    ],
  });
}

/**
 * The registry the images are pushed to. Artifact Registry: one Docker repository holding every
 * image; tags stay mutable (the floating `<tag>` and the build cache move). ECR: one repository per
 * image, scan on push, immutable tags except the build cache. External: nothing to create.
 */
export class ImageRegistry extends pulumi.ComponentResource {
  /** Repository of each image, without tag: `<registry>/<path>/agent-python`. */
  readonly repositories: Partial<Record<ImageName, pulumi.Output<string>>>;
  /** What a build logs in with (docker-build `registries`); the password is a short-lived secret. */
  readonly pushCredentials: pulumi.Output<{ address: string; username: string; password: string }>;
  /**
   * Credentials for an imagePullSecret, when the nodes cannot pull on their own (external registries).
   * Undefined for Artifact Registry (GKE nodes pull with their node service account, which needs
   * roles/artifactregistry.reader) and for ECR (nodes pull with their IAM role; see docs/images.md
   * for clusters outside AWS).
   */
  readonly pullCredentials?: RegistryCredentials;
  /** True when a pushed tag can never move (ECR): image tags must then be unique per build. */
  readonly immutableTags: boolean;

  constructor(name: string, args: ImageRegistryArgs, opts?: pulumi.ComponentResourceOptions) {
    super("agent-fleet:images:ImageRegistry", name, {}, opts);
    validateImageRegistryArgs(name, args);
    const child = { parent: this };
    const r = args.registry;
    const keep = args.keepReleases ?? 30;
    const releasePrefix = args.releaseTagPrefix ?? "";
    this.repositories = {};

    switch (r.kind) {
      case "artifact-registry": {
        const repo = new gcp.artifactregistry.Repository(
          `${name}-repository`,
          {
            repositoryId: r.repositoryId,
            location: r.location,
            ...(r.project !== undefined ? { project: r.project } : {}),
            format: "DOCKER",
            description: "agent-fleet runtime images (agents and router) and their build cache",
            dockerConfig: { immutableTags: false },
            // Without a release prefix there is nothing that is safe to delete (the floating tag and
            // the build cache are tagged too), so no cleanup at all.
            ...(releasePrefix
              ? {
                  cleanupPolicyDryRun: false,
                  cleanupPolicies: [
                    { id: "keep-recent-releases", action: "KEEP", mostRecentVersions: { keepCount: keep } },
                    {
                      id: "delete-old-releases",
                      action: "DELETE",
                      condition: {
                        tagState: "TAGGED",
                        tagPrefixes: [releasePrefix],
                        olderThan: `${RELEASE_MAX_AGE_DAYS * 24 * 3600}s`,
                      },
                    },
                  ],
                }
              : {}),
            ...(args.labels ? { labels: args.labels } : {}),
          },
          child,
        );
        for (const image of args.images) {
          this.repositories[image] = pulumi.interpolate`${repo.registryUri}/${imageRepositoryName(image)}`;
        }
        const token = gcp.organizations.getClientConfigOutput(child).accessToken;
        this.pushCredentials = pulumi.secret(
          pulumi.output(token).apply((password) => ({
            address: `${r.location}-docker.pkg.dev`,
            username: "oauth2accesstoken",
            password,
          })),
        );
        this.immutableTags = false;
        break;
      }
      case "ecr": {
        const repos = args.images.map((image) => {
          const repo = new aws.ecr.Repository(
            `${name}-${image}`,
            {
              name: `${r.repositoryPrefix}/${imageRepositoryName(image)}`,
              region: r.region,
              imageScanningConfiguration: { scanOnPush: true },
              imageTagMutability: "IMMUTABLE_WITH_EXCLUSION",
              imageTagMutabilityExclusionFilters: [{ filter: BUILD_CACHE_TAG, filterType: "WILDCARD" }],
              ...(args.labels ? { tags: args.labels } : {}),
            },
            child,
          );
          new aws.ecr.LifecyclePolicy(
            `${name}-${image}-lifecycle`,
            { repository: repo.name, region: r.region, policy: ecrLifecyclePolicy(releasePrefix, keep) },
            child,
          );
          this.repositories[image] = repo.repositoryUrl;
          return repo;
        });
        const first = repos[0] as aws.ecr.Repository;
        const auth = aws.ecr.getAuthorizationTokenOutput(
          { registryId: first.registryId, region: r.region },
          child,
        );
        this.pushCredentials = pulumi.secret(
          pulumi.all([first.repositoryUrl, auth]).apply(([url, a]) => ({
            address: url.split("/")[0] ?? url,
            username: a.userName,
            password: a.password,
          })),
        );
        this.immutableTags = true;
        break;
      }
      case "external": {
        for (const image of args.images) {
          this.repositories[image] = pulumi.output(`${r.repository}/${imageRepositoryName(image)}`);
        }
        const password = pulumi.secret(r.password);
        this.pushCredentials = pulumi.secret(
          pulumi.output(password).apply((p) => ({ address: r.server, username: r.username, password: p })),
        );
        this.pullCredentials = { server: r.server, username: r.username, password };
        this.immutableTags = false;
        break;
      }
    }

    this.registerOutputs({ repositories: this.repositories, immutableTags: this.immutableTags });
  }
}
