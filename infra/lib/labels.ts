/**
 * The labels every Kubernetes object agent-fleet creates carries (the recommended
 * app.kubernetes.io set), whichever component creates it.
 */
export function fleetLabels(component: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    "app.kubernetes.io/part-of": "agent-fleet",
    "app.kubernetes.io/managed-by": "pulumi",
    "app.kubernetes.io/component": component,
    ...extra,
  };
}
