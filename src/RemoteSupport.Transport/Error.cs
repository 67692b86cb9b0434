using System.Diagnostics.CodeAnalysis;

namespace RemoteSupport.Transport;

/// <summary>The one place public methods throw argument errors from.</summary>
internal static class Error
{
    [DoesNotReturn]
    public static void Argument(string paramName, string message) => throw new ArgumentException(message, paramName);

    [DoesNotReturn]
    public static void ArgumentOutOfRange(string paramName, string message) =>
        throw new ArgumentOutOfRangeException(paramName, message);
}
