namespace FastReid.KubeEmulator;

/// <summary>A kubeconfig for a plain-HTTP loopback server: no TLS, no credentials, namespace default.</summary>
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
          user: {"{}"}
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
