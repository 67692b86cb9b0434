// RemoteSupport demo: a vendor and a customer create identities and jointly sign a document.
// Later issues grow this into a whole support session (authorization, consent, fixes, billing).
using System.Text;
using RemoteSupport.Documents;
using RemoteSupport.Identities;
using RemoteSupport.Trust;

string folder = Path.Combine(Path.GetTempPath(), "remotesupport-demo-" + Guid.NewGuid().ToString("N")[..8]);
Directory.CreateDirectory(folder);
try
{
    Console.WriteLine("== 1. Each party creates its identity and keeps its private key in a file");
    using PartyIdentity vendor = PartyIdentity.Create("contoso", PartyRole.Vendor);
    using PartyIdentity customer = PartyIdentity.Create("fabrikam", PartyRole.Customer);
    string vendorKeyFile = Path.Combine(folder, "contoso-vendor.key");
    await KeyFile.SaveAsync(vendor, vendorKeyFile, new KeyFileOptions { Passphrase = "vendor passphrase" });
    Console.WriteLine($"   vendor   contoso   {vendor.PublicKey.Fingerprint}  key file sealed with a passphrase (Argon2id + XChaCha20-Poly1305), mode 0600");
    Console.WriteLine($"   customer fabrikam  {customer.PublicKey.Fingerprint}");
    using PartyIdentity reloaded = await KeyFile.LoadAsync(vendorKeyFile, "vendor passphrase");
    Console.WriteLine($"   reloaded the vendor key from its file: same key = {reloaded.PublicKey.Equals(vendor.PublicKey)}");

    Console.WriteLine();
    Console.WriteLine("== 2. They exchange public keys (text form) and compare fingerprints by phone");
    var trust = new TrustStore();
    trust.Trust("contoso", PartyRole.Vendor, PartyKey.Parse(vendor.PublicKey.ToString()));
    trust.Trust("fabrikam", PartyRole.Customer, PartyKey.Parse(customer.PublicKey.ToString()));
    Console.WriteLine($"   {vendor.PublicKey}");
    Console.WriteLine($"   {customer.PublicKey}");

    Console.WriteLine();
    Console.WriteLine("== 3. Both sign the same draft of the security ground rules");
    var draftType = new DocumentType("ground-rules-draft", 1);
    byte[] draft = Encoding.UTF8.GetBytes("""{"viewData":"customer approval","changeData":"customer approval by two","hours":"08:00-18:00 Europe/Berlin"}""");
    SignedEnvelope signed = SignedEnvelope.Create(draftType, draft).Sign(reloaded).Sign(customer);
    string json = signed.ToJson(indented: true);
    Console.WriteLine(Indent(json));

    Console.WriteLine();
    Console.WriteLine("== 4. Verification");
    var bothParties = new SignaturePolicy(draftType,
        new SignatureRequirement("contoso", PartyRole.Vendor),
        new SignatureRequirement("fabrikam", PartyRole.Customer));
    VerificationResult valid = trust.Verify(SignedEnvelope.Parse(json), bothParties);
    Console.WriteLine($"   as signed:           {valid.Message}");

    SignedEnvelope vendorOnly = SignedEnvelope.Create(draftType, draft).Sign(vendor);
    Console.WriteLine($"   vendor alone:        {trust.Verify(vendorOnly, bothParties).Message}");

    byte[] altered = (byte[])draft.Clone();
    altered[Array.IndexOf(altered, (byte)'8')] = (byte)'6';
    SignedEnvelope tampered = SignedEnvelope.Create(draftType, altered);
    foreach (EnvelopeSignature signature in signed.Signatures)
    {
        tampered = tampered.AddSignature(signature);
    }

    VerificationResult forged = trust.Verify(tampered, bothParties);
    Console.WriteLine($"   hours changed later: {forged}");
    return valid.IsValid && !forged.IsValid ? 0 : 1;
}
finally
{
    Directory.Delete(folder, recursive: true);
}

static string Indent(string text) => "   " + text.ReplaceLineEndings("\n   ");
