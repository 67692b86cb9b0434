using Microsoft.Extensions.Time.Testing;
using RemoteSupport.Documents;
using RemoteSupport.Identities;
using RemoteSupport.Trust;

namespace RemoteSupport.Tests.Trust;

/// <summary>A trust store on a fake clock with a vendor, a customer and a 2-of-3 approver board, for the trust store's tests.</summary>
public abstract class TrustStoreFixture : IDisposable
{
    protected static readonly DocumentType Agreement = new("agreement", 1);

    protected TrustStoreFixture()
    {
        Store = new TrustStore(Time);
        Store.Trust("contoso", PartyRole.Vendor, Vendor.PublicKey);
        Store.Trust("fabrikam", PartyRole.Customer, Customer.PublicKey);
        Store.Trust("fabrikam", PartyRole.Approver, 2, [.. Approvers.Select(b => b.PublicKey)]);
    }

    protected FakeTimeProvider Time { get; } = new(new DateTimeOffset(2026, 11, 27, 9, 0, 0, TimeSpan.Zero));

    protected TrustStore Store { get; }

    protected PartyIdentity Vendor { get; } = PartyIdentity.Create("contoso", PartyRole.Vendor);

    protected PartyIdentity Customer { get; } = PartyIdentity.Create("fabrikam", PartyRole.Customer);

    protected PartyIdentity[] Approvers { get; } = [.. Enumerable.Range(0, 3).Select(_ => PartyIdentity.Create("fabrikam", PartyRole.Approver))];

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            foreach (PartyIdentity identity in Approvers.Append(Vendor).Append(Customer))
            {
                identity.Dispose();
            }
        }
    }
}
