using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using NodaTime;

namespace RemoteSupport.Ledger;

/// <summary>A line of a statement as the collector decided it: which ledger record, and how it is shown.</summary>
internal readonly record struct CollectedLine(long RecordIndex, ChargeStatus Status, bool PriorPeriod);

/// <summary>What the collector wrote: the CSV's hash and line count, the sums of the due lines, and the lines when few.</summary>
internal sealed record CollectedLines(
    long LineCount, string LinesSha256, Dictionary<string, long> Subtotals, Dictionary<string, long> Totals, IReadOnlyList<CollectedLine>? Inline);

/// <summary>
/// Selects, orders and renders one customer's statement lines from the ledger journal's records as they stream
/// past (docs/formats/ledger.md): the lines wait, rendered, in a <see cref="SortedSpool"/> (bounded memory; the rest
/// in a temporary file) until every record is read, because approvals, disputes and reversals come after the
/// entries they change; then the due lines come out by local date and entry id, the held and the disputed ones
/// after them in ledger order, hashed and written.
/// </summary>
internal sealed partial class StatementLineCollector : IDisposable
{
    /// <summary>The memory the spool of lines keeps, in bytes.</summary>
    internal const int DefaultMemoryBytes = 6 * 1024 * 1024;

    private const int FlushBytes = 1 << 20;
    private const int PayloadHeader = 8 + 8 + 1 + 1 + 1 + 2 + 8; // index, incurred ticks, status, prior period, kind, currency, amount

    private readonly byte[] _customer;
    private readonly DateTimeOffset _start;
    private readonly DateTimeOffset _end;
    private readonly DateTimeZone _zone;
    private readonly IReadOnlyList<MonthlyStatement> _earlier;
    private readonly long _ledgerSize;
    private readonly SortedSpool _due;
    private readonly int _memoryBytes;
    private readonly List<(byte[] Utf8, string Text)> _currencies = [];
    private readonly Dictionary<string, long> _approved = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _disputed = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _reversed = new(StringComparer.Ordinal);

    public StatementLineCollector(
        string customerId, DateTimeOffset start, DateTimeOffset end, DateTimeZone zone, IReadOnlyList<MonthlyStatement> earlier, long ledgerSize,
        int memoryBytes = DefaultMemoryBytes)
    {
        _customer = Encoding.UTF8.GetBytes(customerId);
        (_start, _end, _zone, _earlier, _ledgerSize, _memoryBytes) = (start, end, zone, earlier, ledgerSize, memoryBytes);
        _due = new SortedSpool(memoryBytes);
    }

    /// <summary>
    /// Writes the CSV (to <paramref name="output"/> once it has more than <paramref name="inlineLimit"/> lines; hashed
    /// whatever the count) and sums the due lines.
    /// </summary>
    public async Task<CollectedLines> WriteAsync(Stream? output, int inlineLimit, CancellationToken cancellationToken)
    {
        using var csv = new CsvSink(output, inlineLimit);
        csv.Writer.Write(StatementCsv.Header);
        var sums = new Dictionary<(ChargeKind Kind, int Currency), long>();
        using var apart = new SortedSpool(Math.Min(_memoryBytes, 1 << 20)); // held and disputed lines: usually few
        for (bool more = true; more;)
        {
            more = WriteDue(csv, apart, sums);
            await csv.FlushAsync(final: false, cancellationToken).ConfigureAwait(false);
        }

        for (bool more = true; more;)
        {
            more = WriteApart(csv, apart);
            await csv.FlushAsync(final: false, cancellationToken).ConfigureAwait(false);
        }

        string hash = await csv.FlushAsync(final: true, cancellationToken).ConfigureAwait(false);
        var subtotals = new Dictionary<string, long>(StringComparer.Ordinal);
        var totals = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (((ChargeKind kind, int currencyId), long amount) in sums)
        {
            string currency = _currencies[currencyId].Text;
            subtotals[string.Create(CultureInfo.InvariantCulture, $"{kind}/{currency}")] = amount;
            totals[currency] = checked(totals.GetValueOrDefault(currency) + amount);
        }

        return new CollectedLines(csv.Lines, hash, subtotals, totals, csv.Inline);
    }

    /// <summary>Releases the spool's temporary file.</summary>
    public void Dispose() => _due.Dispose();

    /// <summary>Writes due lines until a chunk is ready; held and disputed ones go to <paramref name="apart"/>.</summary>
    /// <returns>True while lines remain.</returns>
    private bool WriteDue(CsvSink csv, SortedSpool apart, Dictionary<(ChargeKind, int), long> sums)
    {
        while (csv.WantsMore)
        {
            if (!_due.TryRead(out SpoolItem item))
            {
                return false;
            }

            ReadOnlySpan<byte> head = item.Payload;
            long index = BinaryPrimitives.ReadInt64LittleEndian(head);
            var incurred = new DateTimeOffset(BinaryPrimitives.ReadInt64LittleEndian(head[8..]), TimeSpan.Zero);
            var recorded = (ChargeStatus)head[16];
            if (BilledEarlier(index, incurred, recorded, item.Tie))
            {
                continue;
            }

            ChargeStatus status = StatusAt(recorded, item.Tie, _ledgerSize);
            if (status != ChargeStatus.Due)
            {
                ulong group = status == ChargeStatus.Held ? 1UL : 2UL;
                apart.Add((group << 56) | (ulong)index, 0, item.Tie, head);
                continue;
            }

            bool prior = head[17] == 1;
            var kind = (ChargeKind)head[18];
            int currency = BinaryPrimitives.ReadUInt16LittleEndian(head[19..]);
            sums[(kind, currency)] = checked(sums.GetValueOrDefault((kind, currency)) + BinaryPrimitives.ReadInt64LittleEndian(head[21..]));
            csv.Writer.Write(head[PayloadHeader..]);
            StatementCsv.WriteTrailing(csv.Writer, StatementCsv.DueStatus(prior), item.Tie);
            csv.Line(new CollectedLine(index, ChargeStatus.Due, prior));
        }

        return true;
    }

    private static bool WriteApart(CsvSink csv, SortedSpool apart)
    {
        while (csv.WantsMore)
        {
            if (!apart.TryRead(out SpoolItem item))
            {
                return false;
            }

            var status = (item.Key0 >> 56) == 1 ? ChargeStatus.Held : ChargeStatus.Disputed;
            csv.Writer.Write(item.Payload[PayloadHeader..]);
            StatementCsv.WriteTrailing(csv.Writer, StatementCsv.ApartStatus(status), item.Tie);
            csv.Line(new CollectedLine(BinaryPrimitives.ReadInt64LittleEndian(item.Payload), status, PriorPeriod: false));
        }

        return true;
    }

    /// <summary>An entry was billed by an earlier statement S when S could see it, it was incurred before S's end, and it was due then.</summary>
    private bool BilledEarlier(long index, DateTimeOffset incurred, ChargeStatus recorded, ReadOnlySpan<byte> entryId)
    {
        foreach (MonthlyStatement statement in _earlier)
        {
            if (index < statement.LedgerSize && incurred < statement.PeriodEnd && StatusAt(recorded, entryId, statement.LedgerSize) == ChargeStatus.Due)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>An entry's status at a ledger size: disputed (until reversed), held (until approved), or due (as <see cref="ChargeLedger.StatusAt"/>).</summary>
    private ChargeStatus StatusAt(ChargeStatus recorded, ReadOnlySpan<byte> entryId, long ledgerSize)
    {
        if (_disputed.Count == 0 && _approved.Count == 0)
        {
            return recorded == ChargeStatus.Held ? ChargeStatus.Held : ChargeStatus.Due;
        }

        Span<char> id = stackalloc char[Encoding.UTF8.GetMaxCharCount(entryId.Length)];
        id = id[..Encoding.UTF8.GetChars(entryId, id)];
        if (Before(_disputed, id, ledgerSize) && !Before(_reversed, id, ledgerSize))
        {
            return ChargeStatus.Disputed;
        }

        return recorded == ChargeStatus.Held && !Before(_approved, id, ledgerSize) ? ChargeStatus.Held : ChargeStatus.Due;
    }

    private static bool Before(Dictionary<string, long> marks, ReadOnlySpan<char> entryId, long ledgerSize) =>
        marks.Count > 0 && marks.GetAlternateLookup<ReadOnlySpan<char>>().TryGetValue(entryId, out long index) && index < ledgerSize;

    /// <summary>The currency's number in this statement and its code (called under the shared lock).</summary>
    private (int Id, string Text) Currency(ReadOnlySpan<byte> code)
    {
        for (int i = 0; i < _currencies.Count; i++)
        {
            if (_currencies[i].Utf8.AsSpan().SequenceEqual(code))
            {
                return (i, _currencies[i].Text);
            }
        }

        if (_currencies.Count == ushort.MaxValue)
        {
            throw new InvalidOperationException("The ledger names more currencies than a statement can sum.");
        }

        _currencies.Add((code.ToArray(), Encoding.UTF8.GetString(code)));
        return (_currencies.Count - 1, _currencies[^1].Text);
    }

    /// <summary>
    /// The CSV's destination: hashed always; held back in memory while the statement may still be inline, written
    /// to the caller's stream once it has more lines than that (never when there is no stream).
    /// </summary>
    private sealed class CsvSink(Stream? output, int inlineLimit) : IDisposable
    {
        private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private List<CollectedLine>? _inline = [];

        public ArrayBufferWriter<byte> Writer { get; } = new(FlushBytes + (64 * 1024));

        public long Lines { get; private set; }

        public IReadOnlyList<CollectedLine>? Inline => _inline;

        /// <summary>Gets a value indicating whether to write more before flushing: a chunk is not full, or the lines may still be inline (held back whatever their size).</summary>
        public bool WantsMore => _inline is not null || Writer.WrittenCount < FlushBytes;

        public void Line(CollectedLine line)
        {
            Lines++;
            if (_inline is not null)
            {
                _inline.Add(line);
                if (Lines > inlineLimit)
                {
                    _inline = null; // too many to be inline: from now on written as they come
                }
            }
        }

        /// <summary>Hashes and writes what is buffered, once the statement is known not to be inline (or at the end).</summary>
        /// <returns>The hash (lowercase hex) at the end; empty before.</returns>
        public async Task<string> FlushAsync(bool final, CancellationToken cancellationToken)
        {
            if (final || (_inline is null && Writer.WrittenCount >= FlushBytes))
            {
                _hash.AppendData(Writer.WrittenSpan);
                if (_inline is null && output is not null)
                {
                    await output.WriteAsync(Writer.WrittenMemory, cancellationToken).ConfigureAwait(false);
                }

                Writer.ResetWrittenCount();
            }

            return final ? Sha256Hex.Finish(_hash) : string.Empty;
        }

        public void Dispose() => _hash.Dispose();
    }
}
