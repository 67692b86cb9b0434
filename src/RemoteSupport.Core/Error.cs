using System.Diagnostics.CodeAnalysis;

namespace RemoteSupport;

/// <summary>The one place public methods throw argument errors from, so messages stay consistent.</summary>
internal static class Error
{
    [DoesNotReturn]
    public static void Argument(string paramName, string message) => throw new ArgumentException(message, paramName);

    [DoesNotReturn]
    public static void ArgumentOutOfRange(string paramName, string message) =>
        throw new ArgumentOutOfRangeException(paramName, message);

    public static void ThrowIfNullOrWhiteSpace(string? value, string paramName)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            throw new ArgumentException("The value must not be null, empty or white space.", paramName);
        }
    }
}
