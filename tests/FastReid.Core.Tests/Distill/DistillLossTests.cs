using FastReid.Distill;
using FastReid.Modeling.Heads;
using TorchSharp;
using static TorchSharp.torch;

namespace FastReid.Core.Tests.Distill;

/// <summary>The FastDistill losses against values worked out by hand (closed forms in double precision).</summary>
public sealed class DistillLossTests
{
    private static double Kl(double[] p, double[] q) => p.Zip(q, (a, b) => a * Math.Log(a / b)).Sum();

    private static double[] Softmax(double[] x, double t)
    {
        var e = x.Select(v => Math.Exp(v / t)).ToArray();
        return e.Select(v => v / e.Sum()).ToArray();
    }

    [Fact]
    public void Kl_divergence_is_fastreids_kldiv_with_the_temperature_squared()
    {
        // source uniform, target softmax([ln 3, 0] / 2) = [sqrt3, 1] / (sqrt3 + 1): KL(target || source) * 4
        using var s = torch.tensor(new float[] { 0, 0 }).view(1, 2);
        using var t = torch.tensor(new float[] { (float)Math.Log(3), 0 }).view(1, 2);
        double r3 = Math.Sqrt(3);
        double q0 = r3 / (r3 + 1), q1 = 1 / (r3 + 1);
        double expected = (q0 * Math.Log(q0 / 0.5) + q1 * Math.Log(q1 / 0.5)) * 4;
        Assert.Equal(0.145363, expected, 5); // the arithmetic done on paper: (0.63397 ln 1.26795 + 0.36603 ln 0.73205) * 4
        Assert.Equal(expected, DistillLosses.KlDivergence(s, t, 2).item<float>(), 5);
        // at T = 1 it is the plain KL: 0.75 ln 1.5 + 0.25 ln 0.5
        Assert.Equal(0.75 * Math.Log(1.5) + 0.25 * Math.Log(0.5), DistillLosses.KlDivergence(s, t, 1).item<float>(), 5);
    }

    [Fact]
    public void Symmetric_kl_averages_both_directions_over_the_batch()
    {
        double[][] student = [[1.0, -2.0, 0.5], [0.0, 3.0, -1.0]];
        double[][] teacher = [[2.0, 0.0, -1.0], [0.5, 0.5, 4.0]];
        const double T = 16;
        double expected = 0;
        for (int i = 0; i < 2; i++)
        {
            var p = Softmax(student[i], T);
            var q = Softmax(teacher[i], T);
            expected += (Kl(q, p) + Kl(p, q)) / 2 * T * T;
        }
        expected /= 2;
        using var s = torch.tensor(student.SelectMany(r => r.Select(v => (float)v)).ToArray()).view(2, 3);
        using var t = torch.tensor(teacher.SelectMany(r => r.Select(v => (float)v)).ToArray()).view(2, 3);
        Assert.Equal(expected, DistillLosses.SymmetricKl(s, t, T).item<float>(), 4); // float32 at T^2 = 256
        Assert.Equal(0f, DistillLosses.SymmetricKl(s, s.clone(), T).item<float>(), 6);
    }

    [Fact]
    public void Symmetric_kl_sends_gradient_to_the_student_only()
    {
        using var s = torch.tensor(new float[] { 1, -2, 0.5f }).view(1, 3).requires_grad_();
        using var t = torch.tensor(new float[] { 2, 0, -1 }).view(1, 3).requires_grad_();
        using var loss = DistillLosses.SymmetricKl(s, t, 4);
        loss.backward();
        Assert.NotNull(s.grad);
        Assert.True(s.grad!.abs().sum().item<float>() > 0);
        Assert.Null(t.grad);
    }

    [Fact]
    public void Head_logits_for_kd_are_the_scaled_cosines_without_the_margin()
    {
        torch.manual_seed(5);
        using var head = new EmbeddingHead(16, 0, 3, withBnNeck: false, "BN", "GlobalAvgPool", "after", "CosSoftmax", scale: 30, margin: 0.35);
        using var features = torch.randn(4, 16, 2, 2);
        using var targets = torch.tensor(new long[] { 0, 1, 2, 1 });
        var o = head.ForwardTrain(features, targets);
        using var oneHot = nn.functional.one_hot(targets, 3).to(ScalarType.Float32);
        // CosSoftmax outputs (cos - m * onehot) * s; the KD logits are cos * s
        Assert.True(o.Logits.allclose(o.ClsOutputs + oneHot * 0.35 * 30, atol: 1e-4));
        Assert.True(o.Logits.abs().max().item<float>() <= 30.001f);
    }

    [Fact]
    public void Overhaul_margin_is_the_expected_negative_part_of_a_gaussian()
    {
        using var bn = nn.BatchNorm2d(4);
        using (no_grad())
        {
            bn.weight!.copy_(torch.tensor(new float[] { 1, 1, 1, -2 }));
            bn.bias!.copy_(torch.tensor(new float[] { 0, -4, 4, 0 }));
        }
        var m = DistillLosses.OverhaulMargins(bn).data<float>().ToArray();
        double phi4 = Math.Exp(-8) / Math.Sqrt(2 * Math.PI); // density at 4
        // mean 0, std 1: E[x | x < 0] = -phi(0) / 0.5 = -sqrt(2 / pi)
        Assert.Equal(-Math.Sqrt(2 / Math.PI), m[0], 5);
        // mean -4: almost all mass is negative, margin = -4 - phi(4) / Phi(4), Phi(4) = 0.99996833
        Assert.Equal(-4 - phi4 / 0.99996833, m[1], 4);
        // mean +4: Phi(-4) = 3.2e-5 <= 0.001, so -3 std
        Assert.Equal(-3, m[2], 5);
        // the std is |gamma|: a negative gamma of -2 gives twice the first margin
        Assert.Equal(-2 * Math.Sqrt(2 / Math.PI), m[3], 5);
    }

    [Fact]
    public void Partial_l2_skips_where_student_and_target_are_both_off()
    {
        // one channel, margin -0.5; elements (student, teacher):
        //   (-1, -2): target max(-2, -0.5) = -0.5, student below it and target <= 0 -> no loss
        //   ( 0, -2): target -0.5, student above it -> (0.5)^2 = 0.25
        //   ( 1,  2): target 2 > 0 -> 1
        //   ( 3,  2): -> 1
        //   (-1,  0.5): target 0.5 > 0 -> (1.5)^2 = 2.25
        using var s = torch.tensor(new float[] { -1, 0, 1, 3, -1 }).view(1, 1, 1, 5);
        using var t = torch.tensor(new float[] { -2, -2, 2, 2, 0.5f }).view(1, 1, 1, 5);
        using var margin = torch.tensor(new float[] { -0.5f });
        Assert.Equal(4.5f, DistillLosses.PartialL2(s, t, margin).item<float>(), 5);
    }

    [Fact]
    public void Partial_l2_takes_each_channels_own_margin()
    {
        using var s = torch.zeros(1, 2, 1, 1);
        using var t = torch.full([1, 2, 1, 1], -5f);
        using var margins = torch.tensor(new float[] { -1, 1 }); // channel 1's margin is positive: the target becomes 1
        Assert.Equal(1 + 1f, DistillLosses.PartialL2(s, t, margins).item<float>(), 5);
    }
}
