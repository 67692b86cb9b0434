using System.Buffers.Binary;
using System.CommandLine;
using RemoteSupport.Documents;
using RemoteSupport.Fixes;
using RemoteSupport.Identities;

namespace RemoteSupport.Cli.Commands;

/// <summary><c>rsupport fix root|pack|verify</c>: the vendor's root of trust, signed fix packages, and their check.</summary>
internal static class FixCommands
{
    public static Command Build(CliConsole console)
    {
        var fix = new Command("fix", "Sign the vendor's root of release keys, pack signed fixes, and verify a package the way a unit does.");
        fix.Subcommands.Add(BuildRoot(console));
        fix.Subcommands.Add(BuildPack(console));
        fix.Subcommands.Add(BuildVerify(console));
        return fix;
    }

    private static Command BuildRoot(CliConsole console)
    {
        Option<string[]> keys = Opt.Many("--key", "A release key file (role vendor) that the root lists and that signs it (repeat for several).");
        Option<string> vendor = Opt.Required("--vendor", "The vendor (e.g. contoso).");
        Option<long> version = new("--version") { Description = "The root's version (1 for the first; n + 1 for a rotation).", DefaultValueFactory = _ => 1 };
        Option<int?> threshold = new("--threshold") { Description = "How many release keys must sign a package (default: all the keys given)." };
        Option<int> days = new("--days") { Description = "How many days the root is valid (default 365).", DefaultValueFactory = _ => 365 };
        Option<string> output = Opt.Required("--out", "The signed vendor root to write.");
        Command command = Opt.Command(
            "root", "Create the vendor's root of trust: its release keys and threshold, signed by those keys.",
            "rsupport fix root --key release1.key --key release2.key --threshold 2 --vendor contoso --out vendor-root.json", keys, vendor, version, threshold, days, output);

        var passphrase = new PassphraseOptions(command, "opens the release keys");
        command.SetAction(async (parse, cancellationToken) =>
        {
            string[] paths = parse.GetValue(keys)!;
            List<PartyIdentity> identities = await Keys.LoadAllAsync(paths, passphrase.Read(parse, console), cancellationToken).ConfigureAwait(false);
            try
            {
                for (int i = 0; i < identities.Count; i++)
                {
                    AuthorizationCommands.RequireRole(identities[i], PartyRole.Vendor, paths[i]);
                }

                int needed = parse.GetValue(threshold) ?? identities.Count;
                if (needed < 1 || needed > identities.Count)
                {
                    throw new CliException(ExitCode.Usage, $"--threshold {needed} must be between 1 and the {identities.Count} keys given.");
                }

                var root = new VendorRoot
                {
                    VendorId = parse.GetValue(vendor)!, Version = parse.GetValue(version), Threshold = needed,
                    Expires = console.Clock.GetUtcNow().AddDays(parse.GetValue(days)),
                    ReleaseKeys = [.. identities.Select(i => i.PublicKey.ToString()).Distinct()],
                };
                SignedEnvelope signed = AuthorizationCommands.Build(root.ToEnvelope);
                foreach (PartyIdentity identity in identities)
                {
                    signed = signed.Sign(identity);
                }

                string path = parse.GetValue(output)!;
                await Files.WriteEnvelopeAsync(path, signed, cancellationToken).ConfigureAwait(false);
                return console.Done(new Report()
                    .Field("vendorId", "vendor", root.VendorId)
                    .Field("version", "version", root.Version)
                    .Field("threshold", "threshold", $"{root.Threshold} of {root.ReleaseKeys.Count}")
                    .Field("releaseKeys", "release keys", new System.Text.Json.Nodes.JsonArray([.. identities.Select(i => (System.Text.Json.Nodes.JsonNode)i.PublicKey.KeyId)]))
                    .Field("expires", "expires", root.Expires.ToString("O"))
                    .Field("file", "written to", path));
            }
            finally
            {
                identities.ForEach(i => i.Dispose());
            }
        });
        return command;
    }

    private static Command BuildPack(CliConsole console)
    {
        Argument<string> folder = Opt.File("FOLDER", "The files of the fix, at their paths relative to the install root.");
        Option<string> product = Opt.Required("--product", "The product the fix is for (e.g. ledger).");
        Option<string> version = Opt.Required("--version", "The version the fix installs (SemVer 2.0, e.g. 2.4.0).");
        Option<string[]> keys = Opt.Many("--key", "A release key file that signs (repeat up to the root's threshold).");
        Option<string> output = Opt.Required("--out", "The package to write (it must not exist).");
        Option<string> minVersion = new("--min-version") { Description = "The lowest installed version it applies to (default 0.0.0).", DefaultValueFactory = _ => "0.0.0" };
        Option<string?> maxVersion = Opt.Optional("--max-version", "The installed version it no longer applies to (exclusive; default none).");
        Option<string[]> units = Opt.Many("--unit", "A unit it is for (repeat; default every unit, *).", required: false);
        Option<string?> customer = Opt.Optional("--customer", "The only customer it is for (default any).");
        Option<string?> notes = Opt.Optional("--notes", "Release notes (default: the product and version).");
        Option<int> days = new("--days") { Description = "How many days units accept it (default 30).", DefaultValueFactory = _ => 30 };
        Command command = Opt.Command(
            "pack", "Pack a folder as a signed fix package (a progress bar on a terminal).",
            "rsupport fix pack build/ --product ledger --version 2.4.0 --key release1.key --key release2.key --out ledger-2.4.0.rsfix", folder, product, version, keys, output, minVersion, maxVersion, units, customer, notes, days);

        var passphrase = new PassphraseOptions(command, "opens the release keys");
        command.SetAction(async (parse, cancellationToken) =>
        {
            string source = parse.GetValue(folder)!;
            if (!Directory.Exists(source))
            {
                throw new CliException(ExitCode.IO, $"{source}: there is no such folder.");
            }

            string path = parse.GetValue(output)!;
            if (File.Exists(path))
            {
                throw new CliException(ExitCode.IO, $"{path}: a file is already there; a package is never overwritten.");
            }

            string[] paths = parse.GetValue(keys)!;
            List<PartyIdentity> identities = await Keys.LoadAllAsync(paths, passphrase.Read(parse, console), cancellationToken).ConfigureAwait(false);
            try
            {
                DateTimeOffset now = console.Clock.GetUtcNow();
                string[] targets = parse.GetValue(units) is { Length: > 0 } given ? given : ["*"];
                var template = new FixManifest
                {
                    PackageId = $"{parse.GetValue(product)}-{parse.GetValue(version)}", Product = parse.GetValue(product)!, Version = parse.GetValue(version)!,
                    AppliesTo = new FixTarget(parse.GetValue(product)!, parse.GetValue(minVersion)!, parse.GetValue(maxVersion), targets, parse.GetValue(customer), null),
                    CreatedAt = now, ExpiresAt = now.AddDays(parse.GetValue(days)),
                    ReleaseNotes = parse.GetValue(notes) ?? $"{parse.GetValue(product)} {parse.GetValue(version)}", Files = [],
                };
                long total = Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories).Sum(f => new FileInfo(f).Length);
                FixManifest manifest;
                try
                {
                    var done = new LatestProgress();
                    manifest = await Progress.RunAsync(console, "packing", 2 * total, observe: () => done.Value, // hashed, then copied
                        () => FixPackage.BuildAsync(source, template, identities, path, done, cancellationToken)).ConfigureAwait(false);
                }
                catch (ArgumentException e)
                {
                    throw new CliException(ExitCode.Usage, CliConsole.Sentence(e.Message), e);
                }

                long length = new FileInfo(path).Length;
                return console.Done(Describe(new Report(), manifest)
                    .Field("files", "files", manifest.Files.Count)
                    .Field("bytes", "package bytes", length)
                    .Field("signedBy", "signed by", new System.Text.Json.Nodes.JsonArray([.. identities.Select(i => (System.Text.Json.Nodes.JsonNode)i.PublicKey.KeyId)]))
                    .Field("file", "written to", path));
            }
            finally
            {
                identities.ForEach(i => i.Dispose());
            }
        });
        return command;
    }

    private static Command BuildVerify(CliConsole console)
    {
        Argument<string> file = Opt.File("FILE", "The fix package.");
        Option<string> root = Opt.Required("--root", "The vendor root (signed) the package must be signed under.");
        Option<string?> unit = Opt.Optional("--unit", "Check it for this unit (default: the first unit the package names).");
        Option<string?> customer = Opt.Optional("--customer", "Check it for this customer (default: the customer the package names).");
        Option<string?> installed = Opt.Optional("--installed-version", "Check it against this installed version (rollback and range).");
        Command command = Opt.Command(
            "verify", "Verify a package as a unit does: the root's threshold of signatures, expiry, target, and every chunk's hash.",
            "rsupport fix verify ledger-2.4.0.rsfix --root vendor-root.json --installed-version 2.3.0", file, root, unit, customer, installed);
        command.SetAction(async (parse, cancellationToken) =>
        {
            string rootPath = parse.GetValue(root)!;
            SignedEnvelope rootEnvelope = await Files.ReadEnvelopeAsync(rootPath, cancellationToken).ConfigureAwait(false);
            Files.Parse(rootPath, rootEnvelope, VendorRoot.DocumentType, VendorRoot.FromEnvelope);
            FixTrust trust;
            try
            {
                trust = new FixTrust(rootEnvelope);
            }
            catch (ArgumentException e)
            {
                throw new CliException(ExitCode.Refused, $"{rootPath}: {CliConsole.Sentence(e.Message)}", e);
            }

            string path = parse.GetValue(file)!;
            FileStream stream;
            try
            {
                stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.Asynchronous | FileOptions.SequentialScan);
            }
            catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
            {
                throw new CliException(ExitCode.IO, $"{path}: there is no such file.", e);
            }

            await using (stream.ConfigureAwait(false))
            {
                FixManifest? named = ReadManifest(stream);
                stream.Position = 0;
                var context = new FixContext(
                    parse.GetValue(unit) ?? named?.AppliesTo.Units.FirstOrDefault(u => u != "*") ?? "*",
                    parse.GetValue(customer) ?? named?.AppliesTo.CustomerId ?? "*",
                    named?.AppliesTo.ContractId,
                    named?.Product ?? "*",
                    parse.GetValue(installed));
                var counted = new ProgressStream(stream);
                FixVerification verification = await Progress.RunAsync(console, "verifying", stream.Length, () => counted.Position,
                    () => FixVerifier.VerifyAsync(counted, trust, context, stagingFolder: null, cancellationToken: cancellationToken)).ConfigureAwait(false);
                var report = new Report();
                if (verification.Manifest is { } manifest)
                {
                    Describe(report, manifest);
                }

                report.Field("valid", "valid", verification.IsValid)
                    .Field("reason", "result", verification.IsValid ? "verified" : verification.Reason.ToString())
                    .Field("sentence", "finding", verification.Sentence)
                    .Field("packageHash", "package hash", verification.PackageHash)
                    .Data("file", path);
                report.Refusal = $"{path}: {CliConsole.Sentence(verification.Sentence)}";
                return console.Done(report, verification.IsValid ? ExitCode.Ok : ExitCode.Refused);
            }
        });
        return command;
    }

    private static Report Describe(Report report, FixManifest manifest) => report
        .Field("packageId", "package", manifest.PackageId)
        .Field("product", "product", manifest.Product)
        .Field("version", "version", manifest.Version)
        .Field("appliesTo", "applies to", $"{manifest.AppliesTo.Product} [{manifest.AppliesTo.MinVersion}, {manifest.AppliesTo.MaxVersion ?? "∞"}) units {string.Join(",", manifest.AppliesTo.Units)}"
            + (manifest.AppliesTo.CustomerId is null ? string.Empty : $" of {manifest.AppliesTo.CustomerId}"))
        .Field("expiresAt", "expires", manifest.ExpiresAt.ToString("O"));

    /// <summary>
    /// The package's manifest, read unverified from its header (docs/formats/fix-package.md) only
    /// to pick the context to check it for when none is given; the verifier then checks everything. Null when the
    /// header cannot be read (the verifier names why).
    /// </summary>
    private static FixManifest? ReadManifest(Stream package)
    {
        Span<byte> header = stackalloc byte[12];
        if (package.ReadAtLeast(header, header.Length, throwOnEndOfStream: false) < header.Length || !header[..8].SequenceEqual("RSFIXPK1"u8))
        {
            return null;
        }

        uint length = BinaryPrimitives.ReadUInt32BigEndian(header[8..]);
        if (length is 0 or > FixVerifier.MaxManifestBytes || length > package.Length - 12)
        {
            return null;
        }

        byte[] manifest = new byte[length];
        package.ReadExactly(manifest);
        try
        {
            return SignedEnvelope.TryParse(manifest, out SignedEnvelope? envelope, out _) && envelope!.PayloadType == FixManifest.DocumentType.PayloadType
                ? FixManifest.FromEnvelope(envelope)
                : null;
        }
        catch (Exception e) when (e is FormatException or System.Text.Json.JsonException or EnvelopeFormatException or ArgumentException)
        {
            return null;
        }
    }
}
