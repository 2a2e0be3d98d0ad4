using FastReid.Pipeline.Experiments;
using static FastReid.Pipeline.Tests.Fixtures;

namespace FastReid.Pipeline.Tests;

public class NamingTests
{
    [Fact]
    public void Run_names_are_deterministic_so_a_restarted_operator_finds_its_children()
    {
        Assert.Equal(ExperimentNames.RunName(Experiment()), ExperimentNames.RunName(Experiment()));
        Assert.Matches("^market-r50-[0-9a-f]{10}$", ExperimentNames.RunName(Experiment()));
    }

    [Fact]
    public void Key_order_in_the_config_does_not_change_the_name()
    {
        var a = Experiment();
        var b = Experiment();
        b.Spec.Config = new System.Text.Json.Nodes.JsonObject
        {
            ["SOLVER"] = new System.Text.Json.Nodes.JsonObject { ["MAX_EPOCH"] = 60, ["BASE_LR"] = 0.00035 },
            ["MODEL"] = new System.Text.Json.Nodes.JsonObject { ["BACKBONE"] = new System.Text.Json.Nodes.JsonObject { ["DEPTH"] = "50x" } },
        };
        Assert.Equal(ExperimentNames.RunName(a), ExperimentNames.RunName(b));
    }

    [Fact]
    public void Training_changes_rename_the_run_suspension_ttl_and_pending_deadline_do_not()
    {
        var baseName = ExperimentNames.RunName(Experiment());
        var suspended = Experiment();
        suspended.Spec.RunPolicy.Suspend = true;
        suspended.Spec.RunPolicy.TtlSecondsAfterFinished = 10;
        suspended.Spec.RunPolicy.PendingDeadlineSeconds = 1800; // raising the deadline must not restart a training
        Assert.Equal(baseName, ExperimentNames.RunName(suspended));

        var moreNodes = Experiment();
        moreNodes.Spec.Resources.Nodes = 3;
        Assert.NotEqual(baseName, ExperimentNames.RunName(moreNodes));

        var recreated = Experiment();
        recreated.Metadata.Uid = "another-uid";
        Assert.NotEqual(baseName, ExperimentNames.RunName(recreated));
    }

    [Fact]
    public void Long_or_digit_leading_names_still_give_valid_service_and_host_names()
    {
        var e = Experiment();
        e.Metadata.Name = "9" + new string('a', 62);
        var name = ExperimentNames.RunName(e);
        Assert.Matches("^[a-z]([-a-z0-9]*[a-z0-9])?$", name);
        Assert.True((name + "-255").Length <= 63, name);
    }
}
