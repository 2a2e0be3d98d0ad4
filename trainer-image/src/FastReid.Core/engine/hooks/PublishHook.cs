namespace FastReid.Engine.Hooks;

/// <summary>
/// Publishes the run's folder (manifest.json last) to an s3:// OUTPUT_DIR after each checkpoint, so a pod
/// killed later still leaves a complete, resumable output. Registered after the checkpointer it follows.
/// </summary>
public sealed class PublishHook(RunContext run, Checkpointing checkpointing, PeriodicCheckpointer checkpointer) : HookBase
{
    private int _publishedEpoch = -1;

    public override void AfterEpoch() => PublishNewCheckpoint();

    public override void AfterTrain() => PublishNewCheckpoint();

    private void PublishNewCheckpoint()
    {
        if (checkpointer.SavedEpoch == _publishedEpoch) return;
        _publishedEpoch = checkpointer.SavedEpoch;
        if (run.IsRemote) DefaultTrainer.Publish(run, checkpointing.KeptEntries);
    }
}
