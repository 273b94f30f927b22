namespace EdgeGateway.TestSupport;

/// <summary>Every await in a test has a timeout, so a hang fails fast with a message instead of stalling CI.</summary>
public static class TaskTimeouts
{
    /// <summary>Default for one await in a test. Generous: CI machines are shared and slow.</summary>
    public static readonly TimeSpan Default = TimeSpan.FromSeconds(15);

    public static async Task<T> WithTimeout<T>(this Task<T> task, TimeSpan? timeout = null,
        [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(task))] string? what = null)
    {
        var limit = timeout ?? Default;
        try
        {
            return await task.WaitAsync(limit).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"'{what}' did not complete within {limit.TotalSeconds:0.#} s");
        }
    }

    public static async Task WithTimeout(this Task task, TimeSpan? timeout = null,
        [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(task))] string? what = null)
    {
        var limit = timeout ?? Default;
        try
        {
            await task.WaitAsync(limit).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"'{what}' did not complete within {limit.TotalSeconds:0.#} s");
        }
    }

    public static Task<T> WithTimeout<T>(this ValueTask<T> task, TimeSpan? timeout = null,
        [System.Runtime.CompilerServices.CallerArgumentExpression(nameof(task))] string? what = null)
        => task.AsTask().WithTimeout(timeout, what);

    /// <summary>Polls <paramref name="condition"/> until true or the timeout; fails with <paramref name="because"/>.</summary>
    public static Task Eventually(Func<bool> condition, string because, TimeSpan? timeout = null, TimeSpan? poll = null)
        => Eventually(condition, () => because, timeout, poll);

    /// <summary>As above; <paramref name="because"/> is evaluated only on failure (e.g. to include a process's output so far).</summary>
    public static async Task Eventually(Func<bool> condition, Func<string> because, TimeSpan? timeout = null, TimeSpan? poll = null)
    {
        var limit = timeout ?? Default;
        var deadline = Deadline.In(limit);
        while (!condition())
        {
            if (deadline.Passed)
            {
                throw new TimeoutException($"Not true within {limit.TotalSeconds:0.#} s: {because()}");
            }

            await Task.Delay(poll ?? TimeSpan.FromMilliseconds(20)).ConfigureAwait(false);
        }
    }
}
