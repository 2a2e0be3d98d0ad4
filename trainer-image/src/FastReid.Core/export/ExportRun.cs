using FastReid.Config;
using FastReid.Engine;
using FastReid.Storage;

namespace FastReid.Export;

/// <summary>Where an export was published: model.onnx and verify.json (local paths or s3:// URIs) and the figures.</summary>
public sealed record ExportOutcome(VerifyReport Report, string ModelUri, string VerifyUri);

/// <summary>
/// One export as <c>fastreid export</c> and the ExportJob pod run it, as <see cref="DefaultTrainer"/> is one
/// training run:
/// <list type="bullet">
/// <item>an s3:// output is checked (credentials, bucket) before the model is built, the export is staged in a
/// temporary folder, and model.onnx is uploaded only once onnxruntime has verified it;</item>
/// <item>a failed verification keeps verify.json and removes a model.onnx an earlier export left at the
/// output, so the figures never sit beside a model they do not describe;</item>
/// <item>MODEL.WEIGHTS must fill the model the config describes (<see cref="InferenceModel"/>), unless
/// <c>allowPartialWeights</c> says a partial model is meant;</item>
/// <item>with <c>$FASTREID_RESULT_FILE</c> set, the <see cref="Contracts.RunResult"/> goes there (the pod's
/// termination message, read by the operator).</item>
/// </list>
/// </summary>
public static class ExportRun
{
    public static ExportOutcome Run(FastReidConfig cfg, string output, OnnxExportOptions options, Action<string> log, bool allowPartialWeights = false)
    {
        bool remote = output.StartsWith("s3://", StringComparison.Ordinal);
        if (!remote && File.Exists(output)) throw new FastReidException($"--output: '{output}' is a file, not a folder");
        using var storage = remote ? StorageFactory.Open(output, new StorageOptions { Log = log, Retry = RetrySettings.FromEnvironment() }) : null;
        storage?.ListAsync(OnnxExporter.ModelFile).GetAwaiter().GetResult();
        var localDir = remote ? Directory.CreateTempSubdirectory("fastreid-export-").FullName : output;
        try
        {
            // onnxruntime verifies on the CPU, so the reference model runs there too, whatever MODEL.DEVICE says
            using var model = InferenceModel.Load(cfg, Devices.Choose("cpu", log), log, allowPartialWeights);
            VerifyReport report;
            try
            {
                report = OnnxExporter.Export(model, options, localDir, log);
            }
            catch (ExportVerificationException) when (storage is not null)
            {
                storage.DeleteAsync(OnnxExporter.ModelFile).GetAwaiter().GetResult();
                storage.PutFileAsync(Path.Combine(localDir, OnnxExporter.VerifyFile), OnnxExporter.VerifyFile).GetAwaiter().GetResult();
                throw;
            }
            string modelUri = Path.GetFullPath(Path.Combine(localDir, OnnxExporter.ModelFile));
            string verifyUri = Path.GetFullPath(Path.Combine(localDir, OnnxExporter.VerifyFile));
            if (storage is not null)
            {
                log($"uploading {OnnxExporter.ModelFile} and {OnnxExporter.VerifyFile} to {output}");
                storage.PutFileAsync(modelUri, OnnxExporter.ModelFile).GetAwaiter().GetResult();
                storage.PutFileAsync(verifyUri, OnnxExporter.VerifyFile).GetAwaiter().GetResult();
                modelUri = storage.UriOf(OnnxExporter.ModelFile);
                verifyUri = storage.UriOf(OnnxExporter.VerifyFile);
            }
            if (ResultFile.FromEnvironment() is { } resultFile)
                ResultFile.Write(OnnxExporter.Result(report, modelUri, verifyUri), resultFile);
            return new ExportOutcome(report, modelUri, verifyUri);
        }
        finally
        {
            if (remote) Directory.Delete(localDir, recursive: true);
        }
    }
}
