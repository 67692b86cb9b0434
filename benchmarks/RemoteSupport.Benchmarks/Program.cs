using BenchmarkDotNet.Running;

// dotnet run -c Release --project benchmarks/RemoteSupport.Benchmarks -- --filter '*Envelope*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
