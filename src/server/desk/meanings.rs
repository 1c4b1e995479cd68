//! What each verdict code means, in Chinese and in English, as the desk shows it beside the code.

use crate::licence::Code;

/// The meaning of `code` for a window clerk: (Chinese, English).
pub fn meaning(code: Code) -> (&'static str, &'static str) {
    match code {
        Code::Malformed => (
            "证照数据格式错误，不是有效的电子证照",
            "Not a well-formed electronic licence",
        ),
        Code::UnsupportedAlgorithm => (
            "签名算法不受支持，或与签名证书的密钥不符",
            "Signature algorithm not supported or not matching the key",
        ),
        Code::KeyTooWeak => ("签名密钥强度不足", "Signing key too weak"),
        Code::UnknownSigner => (
            "找不到签发该证照的签名证书",
            "The signing certificate is unknown",
        ),
        Code::SignatureInvalid => (
            "签名验证失败，证照内容可能已被篡改",
            "The signature does not verify: the licence may have been altered",
        ),
        Code::SignerNotEligible => (
            "签名证书不符合证照签发要求",
            "The signing certificate may not sign licences",
        ),
        Code::ChainUntrusted => (
            "签名证书不能追溯到发证城市的信任根",
            "The signing certificate does not chain to the issuing city's trust anchor",
        ),
        Code::CertNotValidAtIssuance => (
            "签发时证书不在有效期内",
            "A certificate was not valid when the licence was issued",
        ),
        Code::CertRevoked => ("签名证书已被吊销", "A certificate of the chain is revoked"),
        Code::IssuerNotAuthorized => (
            "该部门无权签发此类证照",
            "The issuing department may not issue this licence type",
        ),
        Code::IssuerMismatch => (
            "证照上的发证单位与签名证书不一致",
            "The issuer named in the licence is not the signer",
        ),
        Code::LidInvalid => (
            "证照标识不符合 GB/T 36904",
            "The licence identifier is not a valid GB/T 36904 identifier",
        ),
        Code::UnknownLicenceType => (
            "证照类型不在目录中",
            "The licence type is not in the catalogue",
        ),
        Code::SchemaViolation => (
            "证照缺少必填项，或字段类型错误",
            "A required field is missing or of the wrong type",
        ),
        Code::LicenceNotYetValid => ("证照尚未生效", "The licence is not yet valid"),
        Code::LicenceExpired => ("证照已过有效期", "The licence has expired"),
        Code::IssuedInFuture => (
            "签发时间晚于当前时间",
            "The licence claims to be issued in the future",
        ),
        Code::LicenceRevoked => (
            "证照已被发证机关注销或吊销",
            "The issuing city has revoked the licence",
        ),
        Code::NotRecognized => (
            "本市不认可该城市签发的此类证照",
            "This city does not recognise this licence type from the issuing city",
        ),
        Code::HolderIdCheck => (
            "持证人证件号码校验位不符，请人工核对证件",
            "The holder's ID check digit fails: compare with the document",
        ),
        Code::CrlStale => (
            "证书吊销列表已过更新期限，吊销状态可能不是最新",
            "A revocation list is past its update time: revocations may be missing",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_has_a_meaning_in_both_languages() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            let (zh, en) = meaning(code);
            assert!(
                zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)),
                "{code:?}"
            );
            assert!(en.is_ascii() && !en.is_empty(), "{code:?}");
            assert!(seen.insert(zh), "{code:?}: a meaning of its own");
        }
        assert_eq!(Code::ALL.iter().filter(|c| !c.is_warning()).count(), 19);
    }
}
