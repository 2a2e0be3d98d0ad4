namespace FastReid.KubeEmulator.Tests;

/// <summary>Manifests shared by the tests: a namespaced CRD with a status subresource, a schema with defaults, printer columns.</summary>
public static class TestManifests
{
    public const string WidgetCrd = """
        apiVersion: apiextensions.k8s.io/v1
        kind: CustomResourceDefinition
        metadata:
          name: widgets.example.io
        spec:
          group: example.io
          scope: Namespaced
          names: {plural: widgets, singular: widget, kind: Widget, shortNames: [wd]}
          versions:
          - name: v1
            served: true
            storage: true
            subresources: {status: {}}
            additionalPrinterColumns:
            - {name: Phase, type: string, jsonPath: .status.phase}
            - {name: Size, type: integer, jsonPath: .spec.size}
            - {name: Age, type: date, jsonPath: .metadata.creationTimestamp}
            schema:
              openAPIV3Schema:
                type: object
                properties:
                  spec:
                    type: object
                    required: [size]
                    properties:
                      size: {type: integer, minimum: 1}
                      color: {type: string, default: blue, enum: [blue, red]}
                      config: {type: object, x-kubernetes-preserve-unknown-fields: true}
                  status:
                    type: object
                    properties:
                      phase: {type: string}
                      observedGeneration: {type: integer}
                      conditions:
                        type: array
                        items: {type: object, x-kubernetes-preserve-unknown-fields: true}
        """;

    public static string Widget(string ns, string name, int size) => $"""
        apiVersion: example.io/v1
        kind: Widget
        metadata:
          name: {name}
          namespace: {ns}
        spec:
          size: {size}
        """;
}
