namespace FastReid.KubeEmulator;

/// <summary>
/// A kubeconfig for a plain-HTTP loopback server, namespace default. The server checks no credentials;
/// the token is there because KubernetesClient refuses a kubeconfig user without any.
/// </summary>
internal static class Kubeconfig
{
    public static string Render(string url) => $"""
        apiVersion: v1
        kind: Config
        clusters:
        - name: kube-emulator
          cluster:
            server: {url}
        users:
        - name: kube-emulator
          user:
            token: kube-emulator
        contexts:
        - name: kube-emulator
          context:
            cluster: kube-emulator
            user: kube-emulator
            namespace: default
        current-context: kube-emulator
        preferences: {"{}"}

        """;
}
