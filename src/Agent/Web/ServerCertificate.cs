using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace BpfAgent.Web;

/// <summary>The server's certificate, its key and the intermediates that follow it in the PEM, ready for a handshake.</summary>
public sealed class ServerCertificate
{
    private ServerCertificate(X509Certificate2 leaf, SslStreamCertificateContext context)
    {
        Leaf = leaf;
        Context = context;
    }

    public X509Certificate2 Leaf { get; }

    public SslStreamCertificateContext Context { get; }

    /// <summary>Loads cert and key (files or inline); throws when either is unreadable or they do not match.</summary>
    public static ServerCertificate Load(TlsServerConfig config)
    {
        string certPem = config.Certificate.Read();
        string keyPem = config.Key.Read();
        X509Certificate2 leaf = X509Certificate2.CreateFromPem(certPem, keyPem);
        var all = new X509Certificate2Collection();
        all.ImportFromPem(certPem);
        var intermediates = new X509Certificate2Collection();
        foreach (X509Certificate2 c in all.Skip(1))
        {
            intermediates.Add(c);
        }

        return new ServerCertificate(leaf, SslStreamCertificateContext.Create(leaf, intermediates, offline: true));
    }
}
