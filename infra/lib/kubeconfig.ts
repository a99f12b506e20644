/**
 * Kubeconfig documents for the cluster backends, built from plain values (call them inside
 * `pulumi.all(...).apply`, then wrap the result in `pulumi.secret`).
 */
import { stringify } from "yaml";

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

interface KubeconfigBase {
  /** Cluster, user and context name. */
  name: string;
  /** API server URL, e.g. https://203.0.113.10. */
  server: string;
}

function kubeconfig(base: KubeconfigBase, caData: string, user: Record<string, unknown>): string {
  return stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name: base.name, cluster: { server: base.server, "certificate-authority-data": caData } }],
    users: [{ name: base.name, user }],
    contexts: [{ name: base.name, context: { cluster: base.name, user: base.name } }],
    "current-context": base.name,
  });
}

/**
 * A kubeconfig that authenticates with an exec credential plugin (GKE: gke-gcloud-auth-plugin),
 * so no long-lived credential is stored: the plugin mints short-lived tokens from the caller's
 * gcloud credentials.
 */
export function execKubeconfig(
  args: KubeconfigBase & {
    /** Base64 PEM of the cluster CA, as the cloud API returns it. */
    caData: string;
    command: string;
    installHint: string;
  },
): string {
  return kubeconfig(args, args.caData, {
    exec: {
      apiVersion: "client.authentication.k8s.io/v1beta1",
      command: args.command,
      installHint: args.installHint,
      provideClusterInfo: true,
      interactiveMode: "Never",
    },
  });
}

/** A kubeconfig that authenticates with a client certificate (K3s admin). PEM inputs. */
export function clientCertKubeconfig(
  args: KubeconfigBase & { caPem: string; certPem: string; keyPem: string },
): string {
  return kubeconfig(args, b64(args.caPem), {
    "client-certificate-data": b64(args.certPem),
    "client-key-data": b64(args.keyPem),
  });
}
