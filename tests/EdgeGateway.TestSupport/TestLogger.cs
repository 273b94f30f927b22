using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Xunit.Abstractions;

namespace EdgeGateway.TestSupport;

/// <summary>
/// Logs to the xunit output and remembers warnings and errors, so a test can fail when the
/// code under test logged an error it did not expect (<see cref="AssertNoUnexpectedErrors"/>).
/// </summary>
public sealed class TestLoggerProvider(ITestOutputHelper? output = null) : ILoggerProvider
{
    private readonly ConcurrentQueue<(LogLevel Level, string Category, EventId Id, string Message, Exception? Error)> _entries = new();

    public IReadOnlyList<(LogLevel Level, string Category, EventId Id, string Message, Exception? Error)> Entries => [.. _entries];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public ILoggerFactory CreateFactory()
    {
        var factory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Debug));
        factory.AddProvider(this);
        return factory;
    }

    /// <summary>Fails if anything was logged at Error or above, except entries <paramref name="expected"/> allows.</summary>
    public void AssertNoUnexpectedErrors(Func<string, bool>? expected = null)
    {
        var unexpected = _entries.Where(e => e.Level >= LogLevel.Error && !(expected?.Invoke(e.Message) ?? false)).ToList();
        Assert.True(unexpected.Count == 0,
            "Unexpected errors logged:\n" + string.Join("\n", unexpected.Select(e => $"[{e.Category}] {e.Message} {e.Error}")));
    }

    public void Dispose()
    {
    }

    private sealed class Logger(TestLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var message = formatter(state, exception);
            owner._entries.Enqueue((logLevel, category, eventId, message, exception));
            try
            {
                owner._output?.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel,-11} {category}[{eventId.Id}] {message}{(exception is null ? "" : " " + exception)}");
            }
            catch (InvalidOperationException)
            {
                // The test finished; xunit refuses output after that.
            }
        }
    }

    private readonly ITestOutputHelper? _output = output;
}
