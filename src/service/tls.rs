//! Trust for the server's outgoing TLS (SMTP, SMS webhooks): the system's certificate
//! authorities, or the PEM bundle named by `SSL_CERT_FILE` (or the folder in
//! `SSL_CERT_DIR`), read once at start. Signatures and key exchange run on the
//! aws-lc-rs the server already links for its own tokens.

use rustls::RootCertStore;
use rustls::pki_types::CertificateDer;
use std::sync::Arc;

/// The authorities the server trusts.
pub struct Roots {
    store: RootCertStore,
    certs: Vec<CertificateDer<'static>>,
}

impl Roots {
    /// Reads them; `setting` names the configuration that needs them, for the message
    /// when none are found (which would make every connection fail later).
    pub fn load(setting: &str) -> Result<Self, String> {
        let found = rustls_native_certs::load_native_certs();
        let mut store = RootCertStore::empty();
        let mut certs = Vec::new();
        for cert in found.certs {
            if store.add(cert.clone()).is_ok() {
                certs.push(cert);
            }
        }
        if certs.is_empty() {
            let why = found
                .errors
                .first()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default();
            return Err(format!(
                "{setting} needs TLS, but no trusted certificate authority was found{why}: \
                 install the system's CA certificates, or name a PEM bundle in SSL_CERT_FILE"
            ));
        }
        Ok(Self { store, certs })
    }

    /// No authority at all: a configuration that trusts nobody.
    pub fn none() -> Self {
        Self {
            store: RootCertStore::empty(),
            certs: Vec::new(),
        }
    }

    /// The certificates, one by one (for lettre, which builds its own configuration).
    pub fn certs(&self) -> &[CertificateDer<'static>] {
        &self.certs
    }

    /// A client configuration trusting these authorities, with rustls' safe default
    /// protocol versions (TLS 1.2 and 1.3).
    pub fn client_config(self) -> Result<rustls::ClientConfig, String> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        Ok(rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_root_certificates(self.store)
            .with_no_client_auth())
    }
}
