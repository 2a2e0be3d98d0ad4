namespace FastReid.KubeEmulator.Storage;

/// <summary>The built-in kinds the operator uses; everything else arrives through CRDs.</summary>
internal static class BuiltinResources
{
    static readonly PrinterColumn Age = new("Age", "date", ".metadata.creationTimestamp");

    public static readonly ResourceType Namespaces = new("", "v1", "namespaces", "namespace", "Namespace", false, ["ns"], [], true, false,
        PrinterColumns: [new("Status", "string", ".status.phase"), Age]);
    public static readonly ResourceType Pods = new("", "v1", "pods", "pod", "Pod", true, ["po"], ["all"], true, false,
        PrinterColumns: [new("Status", "string", ".status.phase"), new("Restarts", "integer", ".status.containerStatuses[0].restartCount"), Age,
            new("IP", "string", ".status.podIP", Priority: 1), new("Node", "string", ".spec.nodeName", Priority: 1)]);
    public static readonly ResourceType Services = new("", "v1", "services", "service", "Service", true, ["svc"], ["all"], true, false,
        PrinterColumns: [new("Type", "string", ".spec.type"), new("Cluster-IP", "string", ".spec.clusterIP"), Age]);
    public static readonly ResourceType ConfigMaps = new("", "v1", "configmaps", "configmap", "ConfigMap", true, ["cm"], [], false, false,
        PrinterColumns: [Age]);
    public static readonly ResourceType Secrets = new("", "v1", "secrets", "secret", "Secret", true, [], [], false, false,
        PrinterColumns: [new("Type", "string", ".type"), Age]);
    public static readonly ResourceType CoreEvents = new("", "v1", "events", "event", "Event", true, ["ev"], [], false, false,
        PrinterColumns: [new("Type", "string", ".type"), new("Reason", "string", ".reason"), new("Object", "string", ".involvedObject.name"),
            new("Message", "string", ".message")]);
    public static readonly ResourceType EventsV1 = new("events.k8s.io", "v1", "events", "event", "Event", true, ["ev"], [], false, false,
        PrinterColumns: [new("Type", "string", ".type"), new("Reason", "string", ".reason"), new("Object", "string", ".regarding.name"),
            new("Note", "string", ".note")]);
    public static readonly ResourceType Jobs = new("batch", "v1", "jobs", "job", "Job", true, [], ["all"], true, true,
        PrinterColumns: [new("Completions", "string", ".status.succeeded"), Age]);
    public static readonly ResourceType Leases = new("coordination.k8s.io", "v1", "leases", "lease", "Lease", true, [], [], false, false,
        PrinterColumns: [new("Holder", "string", ".spec.holderIdentity"), Age]);
    public static readonly ResourceType Crds = new("apiextensions.k8s.io", "v1", "customresourcedefinitions", "customresourcedefinition",
        "CustomResourceDefinition", false, ["crd", "crds"], ["api-extensions"], true, true,
        PrinterColumns: [new("Created At", "date", ".metadata.creationTimestamp")]);

    // Stored but not acted on (no controllers), so the operator's Helm chart can be applied and read back.
    public static readonly ResourceType ServiceAccounts = new("", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true, ["sa"], [], false, false,
        PrinterColumns: [Age]);
    public static readonly ResourceType Deployments = new("apps", "v1", "deployments", "deployment", "Deployment", true, ["deploy"], ["all"], true, true,
        PrinterColumns: [new("Up-to-date", "integer", ".status.updatedReplicas"), new("Available", "integer", ".status.availableReplicas"), Age]);
    public static readonly ResourceType Roles = new("rbac.authorization.k8s.io", "v1", "roles", "role", "Role", true, [], [], false, false,
        PrinterColumns: [new("Created At", "date", ".metadata.creationTimestamp")]);
    public static readonly ResourceType RoleBindings = new("rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding", "RoleBinding", true, [], [], false, false,
        PrinterColumns: [new("Role", "string", ".roleRef.name"), Age]);
    public static readonly ResourceType ClusterRoles = new("rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole", "ClusterRole", false, [], [], false, false,
        PrinterColumns: [new("Created At", "date", ".metadata.creationTimestamp")]);
    public static readonly ResourceType ClusterRoleBindings = new("rbac.authorization.k8s.io", "v1", "clusterrolebindings", "clusterrolebinding", "ClusterRoleBinding", false, [], [], false, false,
        PrinterColumns: [new("Role", "string", ".roleRef.name"), Age]);

    public static readonly IReadOnlyList<ResourceType> All =
        [Namespaces, Pods, Services, ConfigMaps, Secrets, ServiceAccounts, CoreEvents, EventsV1, Jobs, Leases, Crds,
         Deployments, Roles, RoleBindings, ClusterRoles, ClusterRoleBindings];

    /// <summary>Namespaces every cluster starts with.</summary>
    public static readonly IReadOnlyList<string> InitialNamespaces = ["default", "kube-system", "kube-public", "kube-node-lease"];
}
