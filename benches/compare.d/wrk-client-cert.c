/* benches/compare: gives Debian's wrk (OpenSSL, no client-certificate option) a client
 * certificate. Loaded with LD_PRELOAD; every SSL_CTX wrk makes gets the certificate chain in
 * $WRK_CLIENT_CERT and the key in $WRK_CLIENT_KEY (PEM). wrk aborts rather than run without
 * them, so a run never measures refusals. Built by benches/compare with the system's cc. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_method_st SSL_METHOD;
#define PEM_FILETYPE 1 /* SSL_FILETYPE_PEM */

SSL_CTX *SSL_CTX_new(const SSL_METHOD *method) {
    SSL_CTX *(*real)(const SSL_METHOD *) = (SSL_CTX * (*)(const SSL_METHOD *)) dlsym(RTLD_NEXT, "SSL_CTX_new");
    int (*chain)(SSL_CTX *, const char *) =
        (int (*)(SSL_CTX *, const char *))dlsym(RTLD_NEXT, "SSL_CTX_use_certificate_chain_file");
    int (*key)(SSL_CTX *, const char *, int) =
        (int (*)(SSL_CTX *, const char *, int))dlsym(RTLD_NEXT, "SSL_CTX_use_PrivateKey_file");
    const char *cert_file = getenv("WRK_CLIENT_CERT");
    const char *key_file = getenv("WRK_CLIENT_KEY");
    SSL_CTX *ctx;
    if (!real || !chain || !key || !cert_file || !key_file) {
        fprintf(stderr, "wrk-client-cert: OpenSSL symbols or WRK_CLIENT_CERT/WRK_CLIENT_KEY missing\n");
        abort();
    }
    ctx = real(method);
    if (ctx && (chain(ctx, cert_file) != 1 || key(ctx, key_file, PEM_FILETYPE) != 1)) {
        fprintf(stderr, "wrk-client-cert: cannot load %s and %s\n", cert_file, key_file);
        abort();
    }
    return ctx;
}
