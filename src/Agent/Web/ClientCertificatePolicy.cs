using System.Formats.Asn1;
using System.Net;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace BpfAgent.Web;

/// <summary>
/// Decides, during the handshake, whether a client's certificate (or its absence) is accepted, by the web config's
/// client_auth_type: verified against the client CA alone (never the system's roots), for client use when the
/// certificate states its uses, and with one of client_allowed_sans among its subject alternative names.
/// </summary>
public sealed class ClientCertificatePolicy
{
    private static readonly Oid s_clientAuth = new("1.3.6.1.5.5.7.3.2");
    private const string SubjectAltName = "2.5.29.17";

    private readonly TlsServerConfig _config;
    private readonly ReloadingPem<X509Certificate2Collection>? _cas;
    private readonly Action<string> _refused;

    public ClientCertificatePolicy(TlsServerConfig config, ReloadingPem<X509Certificate2Collection>? cas, Action<string> refused)
    {
        _config = config;
        _cas = cas;
        _refused = refused;
    }

    /// <summary>Every certificate of the client CA PEM; throws when it holds none.</summary>
    public static X509Certificate2Collection LoadCas(PemSource source)
    {
        var cas = new X509Certificate2Collection();
        cas.ImportFromPem(source.Read());
        return cas.Count > 0 ? cas : throw new CryptographicException("it holds no PEM certificate");
    }

    /// <summary>A RemoteCertificateValidationCallback.</summary>
    public bool Validate(object sender, X509Certificate? certificate, X509Chain? presented, SslPolicyErrors errors)
    {
        string? problem = Problem(certificate as X509Certificate2 ?? (certificate is null ? null : new X509Certificate2(certificate)), presented);
        if (problem is not null)
        {
            _refused(problem);
        }

        return problem is null;
    }

    private string? Problem(X509Certificate2? cert, X509Chain? presented)
    {
        if (cert is null)
        {
            return _config.RequiresClientCertificate ? "no client certificate" : null;
        }

        if (_config.VerifiesClientCertificate)
        {
            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.AddRange(_cas!.Current);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            chain.ChainPolicy.ApplicationPolicy.Add(s_clientAuth);
            foreach (X509ChainElement e in presented?.ChainElements ?? (IEnumerable<X509ChainElement>)[])
            {
                if (!e.Certificate.RawDataMemory.Span.SequenceEqual(cert.RawDataMemory.Span))
                {
                    chain.ChainPolicy.ExtraStore.Add(e.Certificate);
                }
            }

            if (!chain.Build(cert))
            {
                return $"client certificate '{cert.Subject}' not accepted: {string.Join("; ", chain.ChainStatus.Select(s => s.StatusInformation.Trim()).Distinct())}";
            }
        }

        if (_config.ClientAllowedSans is { } allowed && !SubjectAltNames(cert).Any(allowed.Contains))
        {
            return $"client certificate '{cert.Subject}' has none of client_allowed_sans";
        }

        return null;
    }

    /// <summary>The DNS names, e-mail addresses, URIs and IP addresses of the certificate's subject alternative names.</summary>
    internal static List<string> SubjectAltNames(X509Certificate2 cert)
    {
        var names = new List<string>();
        foreach (X509Extension ext in cert.Extensions)
        {
            if (ext.Oid?.Value != SubjectAltName)
            {
                continue;
            }

            AsnReader seq = new AsnReader(ext.RawData, AsnEncodingRules.DER).ReadSequence();
            while (seq.HasData)
            {
                Asn1Tag tag = seq.PeekTag();
                if (tag.TagClass != TagClass.ContextSpecific)
                {
                    seq.ReadEncodedValue();
                    continue;
                }

                switch (tag.TagValue)
                {
                    case 1 or 2 or 6: // rfc822Name, dNSName, uniformResourceIdentifier
                        names.Add(seq.ReadCharacterString(UniversalTagNumber.IA5String, tag));
                        break;
                    case 7: // iPAddress
                        names.Add(new IPAddress(seq.ReadOctetString(tag)).ToString());
                        break;
                    default:
                        seq.ReadEncodedValue();
                        break;
                }
            }
        }

        return names;
    }
}
