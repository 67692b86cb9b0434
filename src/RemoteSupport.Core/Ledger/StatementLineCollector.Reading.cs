using System.Buffers;
using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Text;
using NodaTime;
using RemoteSupport.Journal;

namespace RemoteSupport.Ledger;

/// <summary>
/// Reading the journal: the records are copied in batches of about a megabyte as they stream past, and workers (one
/// per core, at most four) read and render them meanwhile. What the workers share (the spool, the marks of approvals,
/// disputes and reversals, the currencies) is taken under one lock; a mark keeps the lowest index whatever the order
/// the batches are done in, and the spool orders by key, so the statement is the same whichever worker took what.
/// </summary>
internal sealed partial class StatementLineCollector
{
    private const int BatchBytes = 1 << 20;
    private const int BatchesInFlight = 2;
    private readonly Lock _shared = new();

    /// <summary>Reads the ledger journal's records below <paramref name="ledgerSize"/> and takes each in.</summary>
    /// <returns>A task that completes once every record is taken in.</returns>
    public async Task ReadAsync(IRecordJournal journal, long ledgerSize, CancellationToken cancellationToken)
    {
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        using var batches = new BlockingCollection<RecordBatch>(BatchesInFlight);
        var spare = new ConcurrentBag<RecordBatch>();
        Task[] workers = [.. Enumerable.Range(0, Math.Clamp(Environment.ProcessorCount, 1, 4)).Select(_ => Task.Run(() =>
        {
            try
            {
                var worker = new Worker(this);
                foreach (RecordBatch batch in batches.GetConsumingEnumerable(failed.Token))
                {
                    batch.TakeEach(worker.Take);
                    spare.Add(batch);
                }
            }
            catch
            {
                failed.Cancel(); // the reader stops handing over batches
                throw;
            }
        }, CancellationToken.None))];
        RecordBatch current = new();
        try
        {
            await journal.ReadRangeAsync(0, ledgerSize, (index, record) =>
            {
                if (!current.TryAdd(index, record))
                {
                    batches.Add(current, failed.Token); // waits while the workers are behind
                    current = spare.TryTake(out RecordBatch? reused) ? reused.Reset() : new RecordBatch();
                    current.Add(index, record);
                }
            }, failed.Token).ConfigureAwait(false);
            if (current.Count > 0)
            {
                batches.Add(current, failed.Token);
            }
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            // A worker failed: its exception is the one to throw, below.
        }
        finally
        {
            batches.CompleteAdding();
        }

        await Task.WhenAll(workers).ConfigureAwait(false);
    }

    private static void Mark(Dictionary<string, long> marks, string entryId, long index)
    {
        if (!marks.TryGetValue(entryId, out long at) || index < at)
        {
            marks[entryId] = index; // the first approval, dispute or reversal of an entry counts, as in the ledger
        }
    }

    /// <summary>Records copied out of the journal's buffer: their bytes end to end, and where each starts.</summary>
    private sealed class RecordBatch
    {
        private byte[] _bytes = new byte[BatchBytes];
        private readonly List<(long Index, int Start, int Length)> _records = [];
        private int _used;

        public int Count => _records.Count;

        public RecordBatch Reset()
        {
            _records.Clear();
            _used = 0;
            return this;
        }

        /// <summary>Copies the record in when it fits (or the batch is empty: a record larger than a batch grows it).</summary>
        public bool TryAdd(long index, ReadOnlySpan<byte> record)
        {
            if (_used + record.Length > _bytes.Length && _records.Count > 0)
            {
                return false;
            }

            Add(index, record);
            return true;
        }

        public void Add(long index, ReadOnlySpan<byte> record)
        {
            if (_used + record.Length > _bytes.Length)
            {
                Array.Resize(ref _bytes, _used + record.Length);
            }

            record.CopyTo(_bytes.AsSpan(_used));
            _records.Add((index, _used, record.Length));
            _used += record.Length;
        }

        public void TakeEach(JournalRecordHandler take)
        {
            foreach ((long index, int start, int length) in _records)
            {
                take(index, _bytes.AsSpan(start, length));
            }
        }
    }

    /// <summary>One worker's reader, row buffer and formatted rates; what it shares goes through the collector's lock.</summary>
    private sealed class Worker(StatementLineCollector collector)
    {
        private readonly LedgerRecordReader _reader = new();
        private readonly ArrayBufferWriter<byte> _row = new(1024);
        private readonly Dictionary<(int, int, int, int, int), byte[]> _rates = [];
        private readonly List<(byte[] Utf8, int Id, string Text)> _currencies = [];

        /// <summary>Takes in ledger record <paramref name="index"/>: an annotation's marks, or an entry's line.</summary>
        public void Take(long index, ReadOnlySpan<byte> record)
        {
            if (_reader.Read(record, out ChargeRecordView entry) is { } annotation)
            {
                lock (collector._shared)
                {
                    foreach (string entryId in annotation.EntryIds)
                    {
                        Mark(annotation.Annotation == "approved" ? collector._approved : collector._disputed, entryId, index);
                    }
                }

                return;
            }

            if (!entry.Reverses.IsEmpty)
            {
                string reversed = Encoding.UTF8.GetString(entry.Reverses);
                lock (collector._shared)
                {
                    Mark(collector._reversed, reversed, index);
                }
            }

            if (!entry.CustomerId.SequenceEqual(collector._customer) || entry.IncurredAt >= collector._end)
            {
                return;
            }

            (int currencyId, string currency) = Currency(entry.Currency);
            LocalDate date = Instant.FromDateTimeOffset(entry.IncurredAt).InZone(collector._zone).Date;
            _row.ResetWrittenCount();
            Span<byte> head = _row.GetSpan(PayloadHeader);
            BinaryPrimitives.WriteInt64LittleEndian(head, index);
            BinaryPrimitives.WriteInt64LittleEndian(head[8..], entry.IncurredAt.UtcTicks);
            head[16] = (byte)entry.Status;
            head[17] = entry.IncurredAt < collector._start ? (byte)1 : (byte)0;
            head[18] = (byte)entry.Kind;
            BinaryPrimitives.WriteUInt16LittleEndian(head[19..], (ushort)currencyId);
            BinaryPrimitives.WriteInt64LittleEndian(head[21..], entry.AmountMinor);
            _row.Advance(PayloadHeader);
            StatementCsv.WriteLeading(
                _row, date, entry.SessionId, entry.UnitId, entry.Kind, entry.Description, entry.Quantity, entry.QuantityUnit, RateText(entry.Rate, currencyId, currency), entry.AmountMinor, currency);

            // By local date, then entry id (ordinal): the date and the id's first 12 bytes in the two key words, the whole id breaks ties.
            Span<byte> id = stackalloc byte[12];
            id.Clear();
            entry.EntryId[..Math.Min(12, entry.EntryId.Length)].CopyTo(id);
            ulong day = (ulong)((date.Year * 10_000) + (date.Month * 100) + date.Day);
            lock (collector._shared)
            {
                collector._due.Add((day << 32) | BinaryPrimitives.ReadUInt32BigEndian(id), BinaryPrimitives.ReadUInt64BigEndian(id[4..]), entry.EntryId, _row.WrittenSpan);
            }
        }

        private (int Id, string Text) Currency(ReadOnlySpan<byte> code)
        {
            foreach ((byte[] utf8, int known, string text) in _currencies)
            {
                if (utf8.AsSpan().SequenceEqual(code))
                {
                    return (known, text);
                }
            }

            (int Id, string Text) shared;
            lock (collector._shared)
            {
                shared = collector.Currency(code);
            }

            _currencies.Add((code.ToArray(), shared.Id, shared.Text));
            return shared;
        }

        /// <summary>The rate as the CSV writes it; a ledger has few rates (a rate card's), each formatted once.</summary>
        private byte[] RateText(decimal rate, int currencyId, string currency)
        {
            Span<int> bits = stackalloc int[4];
            decimal.GetBits(rate, bits); // the scale too: 2 and 2.0 are equal, and written differently
            var key = (bits[0], bits[1], bits[2], bits[3], currencyId);
            if (!_rates.TryGetValue(key, out byte[]? text))
            {
                Span<byte> formatted = stackalloc byte[StatementCsv.NumberLength];
                text = formatted[..Money.FormatRate(rate, currency, formatted)].ToArray();
                if (_rates.Count < 4096)
                {
                    _rates[key] = text;
                }
            }

            return text;
        }
    }
}
