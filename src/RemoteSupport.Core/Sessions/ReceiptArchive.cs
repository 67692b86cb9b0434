using RemoteSupport.Documents;
using RemoteSupport.Fixes;
using RemoteSupport.Identities;
using RemoteSupport.Journal;
using RemoteSupport.Trust;

namespace RemoteSupport.Sessions;

/// <summary>
/// The vendor's archive of one customer's receipts (session receipts and install receipts, signed by the customer's
/// units) on an <see cref="IRecordJournal"/>: each kept once, as the envelope's JSON, in a tree whose checkpoints sign
/// what was received. On a shared journal (several console hosts) a receipt two hosts keep at once is kept once.
/// </summary>
public sealed class ReceiptArchive : IDisposable
{
    private readonly IRecordJournal _journal;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly List<SignedEnvelope> _receipts = [];
    private readonly HashSet<string> _payloads = new(StringComparer.Ordinal); // payload hashes of the receipts kept

    private ReceiptArchive(IRecordJournal journal, string customerId)
    {
        _journal = journal;
        CustomerId = customerId;
    }

    /// <summary>Gets the customer whose units' receipts the archive keeps.</summary>
    public string CustomerId { get; }

    /// <summary>Gets the journal the receipts are in (its checkpoints sign the archive).</summary>
    public IRecordJournal Journal => _journal;

    /// <summary>Gets the receipts kept, in the journal's order.</summary>
    public IReadOnlyList<SignedEnvelope> Receipts
    {
        get
        {
            lock (_receipts)
            {
                return [.. _receipts];
            }
        }
    }

    /// <summary>Opens the archive over <paramref name="journal"/>, reading the receipts it holds.</summary>
    /// <returns>The archive.</returns>
    /// <param name="journal">The archive's journal (the caller's; it stays open after the archive).</param>
    /// <param name="customerId">The customer whose units sign the receipts.</param>
    /// <param name="cancellationToken">Stops the read.</param>
    /// <exception cref="JournalException">A record is not a receipt envelope.</exception>
    public static async Task<ReceiptArchive> OpenAsync(IRecordJournal journal, string customerId, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(journal);
        Error.ThrowIfNullOrWhiteSpace(customerId, nameof(customerId));
        var archive = new ReceiptArchive(journal, customerId);
        await archive.TakeInAsync(cancellationToken).ConfigureAwait(false);
        return archive;
    }

    /// <summary>Takes in the receipts other hosts kept since this archive last looked (a shared journal).</summary>
    /// <returns>A task that completes when they are taken in.</returns>
    /// <param name="cancellationToken">Stops the read.</param>
    public async Task RefreshAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (_journal is ISharedRecordJournal shared)
            {
                await shared.RefreshAsync(cancellationToken).ConfigureAwait(false);
            }

            await TakeInAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Keeps a receipt a unit sent: a session receipt of this customer or an install receipt, signed by one of the
    /// customer's units as <paramref name="trust"/> knows them. Keeping one already kept (the same payload) is accepted
    /// and appends nothing.
    /// </summary>
    /// <returns>Accepted (kept now or before), or why not: <see cref="DocumentRefusal.Malformed"/> (not a receipt),
    /// <see cref="DocumentRefusal.OtherCustomer"/>, <see cref="DocumentRefusal.NotSigned"/> (not by the customer's unit).</returns>
    /// <param name="receipt">The signed receipt.</param>
    /// <param name="trust">The trust that knows the customer's units' keys.</param>
    /// <param name="cancellationToken">Stops waiting (the receipt may still be kept).</param>
    public async Task<DocumentAcceptance> KeepAsync(SignedEnvelope receipt, TrustStore trust, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(receipt);
        ArgumentNullException.ThrowIfNull(trust);
        if (Check(receipt, trust) is { } refusal)
        {
            return refusal;
        }

        string payload = DocumentJson.Hash(receipt.Payload.Span);
        byte[] record = receipt.ToUtf8Json();
        string kind = receipt.PayloadType == SessionReceipt.DocumentType.PayloadType ? "session receipt" : "install receipt";
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            bool kept = false;
            Func<byte[]?> decide = () =>
            {
                lock (_receipts)
                {
                    kept = _payloads.Contains(payload);
                }

                return kept ? null : record;
            };
            long? index = _journal is ISharedRecordJournal shared
                ? await shared.AppendDecidedAsync(async ct =>
                {
                    await TakeInAsync(ct).ConfigureAwait(false); // what other hosts kept meanwhile
                    return decide();
                }, cancellationToken).ConfigureAwait(false)
                : decide() is byte[] bytes ? await _journal.AppendAsync(bytes, cancellationToken).ConfigureAwait(false) : null;
            if (index is long at)
            {
                Take(receipt, at);
                return DocumentAcceptance.Accepted($"The {kind} is kept as record {at} of {CustomerId}'s receipts.");
            }

            return DocumentAcceptance.Accepted($"The {kind} was kept before; nothing was appended.");
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _gate.Dispose();

    private DocumentAcceptance? Check(SignedEnvelope receipt, TrustStore trust)
    {
        DocumentType type;
        if (receipt.PayloadType == SessionReceipt.DocumentType.PayloadType)
        {
            type = SessionReceipt.DocumentType;
            SessionReceipt session;
            try
            {
                session = SessionReceipt.FromEnvelope(receipt);
            }
            catch (EnvelopeFormatException ex)
            {
                return DocumentAcceptance.Refused(DocumentRefusal.Malformed, ex.Message);
            }

            if (!string.Equals(session.CustomerId, CustomerId, StringComparison.Ordinal))
            {
                return DocumentAcceptance.Refused(DocumentRefusal.OtherCustomer,
                    $"The session receipt is {session.CustomerId}'s (unit {session.UnitId}); this archive keeps {CustomerId}'s.");
            }
        }
        else if (receipt.PayloadType == InstallReceipt.DocumentType.PayloadType)
        {
            type = InstallReceipt.DocumentType;
            try
            {
                _ = InstallReceipt.FromEnvelope(receipt);
            }
            catch (EnvelopeFormatException ex)
            {
                return DocumentAcceptance.Refused(DocumentRefusal.Malformed, ex.Message);
            }
        }
        else
        {
            return DocumentAcceptance.Refused(DocumentRefusal.Malformed,
                $"The envelope is a '{receipt.PayloadType}', not a session receipt or an install receipt.");
        }

        VerificationResult verified = trust.Verify(receipt, new SignaturePolicy(type, new SignatureRequirement(CustomerId, PartyRole.Unit)));
        return verified.IsValid
            ? null
            : DocumentAcceptance.Refused(DocumentRefusal.NotSigned, $"The {type.Kind} is not signed by one of {CustomerId}'s units: {verified.Sentence}");
    }

    private async Task TakeInAsync(CancellationToken cancellationToken)
    {
        for (long i = Known(); i < _journal.Count; i++)
        {
            byte[] record = await _journal.ReadAsync(i, cancellationToken).ConfigureAwait(false);
            if (!SignedEnvelope.TryParse(record, out SignedEnvelope? receipt, out string? problem))
            {
                throw new JournalException($"Record {i} of {CustomerId}'s receipts is not a receipt envelope: {problem}");
            }

            Take(receipt, i);
        }
    }

    private long Known()
    {
        lock (_receipts)
        {
            return _receipts.Count;
        }
    }

    private void Take(SignedEnvelope receipt, long index)
    {
        lock (_receipts)
        {
            if (index != _receipts.Count)
            {
                throw new JournalException($"{CustomerId}'s receipts: record {index} taken in after {_receipts.Count} records.");
            }

            _receipts.Add(receipt);
            _payloads.Add(DocumentJson.Hash(receipt.Payload.Span));
        }
    }
}
