using RemoteSupport.Fuzz;

// rsfuzz TARGET                 run TARGET under AFL++ (SharpFuzz's out-of-process runner: one input per fork-server round)
// rsfuzz --run TARGET FILE...   run TARGET on files, outside AFL++ (a crash reproduces as an exception)
// rsfuzz --list                 the targets, one per line
// rsfuzz --seeds FOLDER [TARGET...]  write the seed corpus (FOLDER/corpus/TARGET/*) and the fixtures the targets read;
//                                     given targets, only their seeds (the others' committed seeds stay as they are)
if (args is ["--list"])
{
    foreach (string listed in Targets.All.Keys)
    {
        Console.WriteLine(listed);
    }

    return 0;
}

if (args is ["--seeds", string folder, .. string[] only])
{
    Seeds.Write(folder, only);
    return 0;
}

if (args is ["--run", string target, .. string[] files] && Targets.All.TryGetValue(target, out Action<byte[]>? run))
{
    foreach (string file in files)
    {
        run(File.ReadAllBytes(file));
    }

    return 0;
}

if (args is [string name] && Targets.All.TryGetValue(name, out Action<byte[]>? fuzz))
{
    SharpFuzz.Fuzzer.OutOfProcess.Run(stream =>
    {
        using var buffer = new MemoryStream();
        stream.CopyTo(buffer);
        fuzz(buffer.ToArray());
    });
    return 0;
}

Console.Error.WriteLine($"usage: rsfuzz TARGET | --run TARGET FILE... | --list | --seeds FOLDER (targets: {string.Join(", ", Targets.All.Keys)})");
return 2;
