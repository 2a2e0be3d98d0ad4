using FastReid.Api.V1Alpha1;

namespace FastReid.Api.Tests;

public class QuantityTests
{
    [Theory]
    [InlineData("8", 8)]
    [InlineData("500m", 0.5)]
    [InlineData("32Gi", 34359738368)]
    [InlineData("1k", 1000)]
    [InlineData("1e3", 1000)]
    [InlineData("1.5", 1.5)]
    [InlineData(".5", 0.5)]
    [InlineData("128974848", 128974848)]
    public void Parses_kubernetes_quantities(string text, double expected)
    {
        Assert.True(Quantity.TryParse(text, out var value));
        Assert.Equal((decimal)expected, value);
    }

    [Theory]
    [InlineData("")]
    [InlineData("8 cores")]
    [InlineData("32GB")]
    [InlineData("Gi")]
    [InlineData("1.2.3")]
    [InlineData("0x10")]
    public void Rejects_what_the_api_server_rejects(string text) => Assert.False(Quantity.TryParse(text, out _));
}
