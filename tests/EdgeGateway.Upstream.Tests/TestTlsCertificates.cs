using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace EdgeGateway.Upstream.Tests;

/// <summary>
/// A self-signed CA made in the test, a server certificate from it for localhost/127.0.0.1 and a client certificate,
/// written as PEM files (what Mosquitto and the sink options read).
/// </summary>
internal sealed class TestTlsCertificates
{
    private TestTlsCertificates(string dir) => Directory = dir;

    public string Directory { get; }

    public string CaFile => Path.Combine(Directory, "ca.crt");

    public string ServerCertificateFile => Path.Combine(Directory, "server.crt");

    public string ServerKeyFile => Path.Combine(Directory, "server.key");

    public string ClientCertificateFile => Path.Combine(Directory, "client.crt");

    public string ClientKeyFile => Path.Combine(Directory, "client.key");

    public static TestTlsCertificates Create(string dir, string name)
    {
        System.IO.Directory.CreateDirectory(dir);
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name} test CA", caKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        var now = DateTimeOffset.UtcNow;
        using var ca = request.CreateSelfSigned(now.AddDays(-1), now.AddYears(1));
        var certs = new TestTlsCertificates(dir);
        File.WriteAllText(certs.CaFile, ca.ExportCertificatePem());
        Issue(ca, caKey, "localhost", server: true, certs.ServerCertificateFile, certs.ServerKeyFile);
        Issue(ca, caKey, "gateway-1", server: false, certs.ClientCertificateFile, certs.ClientKeyFile);
        return certs;
    }

    /// <summary>The server certificate with its key, loaded the way Kestrel's UseHttps needs it.</summary>
    public X509Certificate2 LoadServerCertificate()
    {
        using var pem = X509Certificate2.CreateFromPemFile(ServerCertificateFile, ServerKeyFile);
        // A PKCS#12 round trip gives a persisted key object SslStream can use on every platform.
        return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
    }

    private static void Issue(X509Certificate2 ca, ECDsa caKey, string commonName, bool server, string certFile, string keyFile)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={commonName}", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        // id-kp-serverAuth / id-kp-clientAuth
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid(server ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2")], false));
        if (server)
        {
            var san = new SubjectAlternativeNameBuilder();
            san.AddDnsName("localhost");
            san.AddIpAddress(IPAddress.Loopback);
            request.CertificateExtensions.Add(san.Build());
        }

        var serial = new byte[8];
        RandomNumberGenerator.Fill(serial);
        var now = DateTimeOffset.UtcNow;
        using var cert = request.Create(ca.SubjectName, X509SignatureGenerator.CreateForECDsa(caKey), now.AddDays(-1), now.AddMonths(6), serial);
        File.WriteAllText(certFile, cert.ExportCertificatePem());
        File.WriteAllText(keyFile, key.ExportPkcs8PrivateKeyPem());
    }
}
