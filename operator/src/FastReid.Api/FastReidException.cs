namespace FastReid;

/// <summary>
/// An error caused by what the user gave us (a config key, a path, a file), with a message that says
/// what was wrong and where. Command-line front ends print the message without a stack trace.
/// </summary>
public class FastReidException(string message, Exception? inner = null) : Exception(message, inner);
