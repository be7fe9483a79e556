using System.Diagnostics;
using System.Text;

namespace BpfAgent.Bench;

/// <summary>A child process driven by lines on stdin, answering lines on stdout.</summary>
internal sealed class LineProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();
    private Task<string?>? _pending;

    private LineProcess(Process process, string name)
    {
        _process = process;
        Name = name;
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (_stderr)
                {
                    _stderr.AppendLine(e.Data);
                }
            }
        };
        _process.BeginErrorReadLine();
    }

    public string Name { get; }

    public int Pid => _process.Id;

    public string StandardError
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    public static LineProcess Start(string name, string file, IEnumerable<string> args)
    {
        var psi = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";

        // Consumers are pinned to one CPU (taskset), so the runtime sees one processor and multiplies its tiering
        // delay by 10: hot methods would stay at tier 0 through the warm-up. The agent on a host sees every CPU.
        psi.Environment["DOTNET_TC_DelaySingleProcMultiplier"] = "1";
        return new LineProcess(Process.Start(psi) ?? throw new InvalidOperationException($"{file} did not start"), name);
    }

    public void Send(string line)
    {
        _process.StandardInput.WriteLine(line);
        _process.StandardInput.Flush();
    }

    /// <summary>Starts reading the next line (for waiting on it while doing something else).</summary>
    public Task<string?> NextLine() => _pending ??= _process.StandardOutput.ReadLineAsync();

    public string ReadLine(TimeSpan timeout)
    {
        Task<string?> t = NextLine();
        if (!t.Wait(timeout))
        {
            throw new TimeoutException($"{Name}: no answer within {timeout.TotalSeconds} s. stderr: {StandardError}");
        }

        _pending = null;
        return t.Result ?? throw new IOException($"{Name} exited (status {ExitCodeOrNone()}). stderr: {StandardError}");
    }

    public string Ask(string command, TimeSpan timeout)
    {
        Send(command);
        return ReadLine(timeout);
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                try
                {
                    Send("quit");
                }
                catch (IOException)
                {
                }

                if (!_process.WaitForExit(10_000))
                {
                    _process.Kill();
                }
            }
        }
        finally
        {
            _process.Dispose();
        }
    }

    private string ExitCodeOrNone()
    {
        _process.WaitForExit(2000);
        return _process.HasExited ? _process.ExitCode.ToString(System.Globalization.CultureInfo.InvariantCulture) : "none";
    }
}
