//! Page languages: Simplified Chinese and English, chosen by `?lang=`, then the
//! `uc_lang` cookie, then `Accept-Language`.

use axum::http::HeaderMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

impl Lang {
    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Zh => "zh-CN",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim().to_ascii_lowercase();
        if s.starts_with("zh") {
            Some(Self::Zh)
        } else if s.starts_with("en") {
            Some(Self::En)
        } else {
            None
        }
    }

    /// The best of our two languages by the header's q-values; English otherwise.
    pub fn from_accept_language(headers: &HeaderMap) -> Self {
        let Some(value) = headers.get("accept-language").and_then(|v| v.to_str().ok()) else {
            return Self::En;
        };
        let mut best: Option<(f32, Self)> = None;
        for part in value.split(',') {
            let mut pieces = part.split(';');
            let tag = pieces.next().unwrap_or_default();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.parse::<f32>().ok())
                .unwrap_or(1.0);
            if let Some(lang) = Self::parse(tag)
                && best.is_none_or(|(bq, _)| q > bq)
            {
                best = Some((q, lang));
            }
        }
        best.map_or(Self::En, |(_, l)| l)
    }

    /// The text of `key` in this language; the key itself when it is missing, so
    /// that a forgotten string shows up in review rather than as a blank.
    pub fn t(self, key: &str) -> &str {
        STRINGS
            .iter()
            .find(|(k, _, _)| *k == key)
            .map_or(key, |(_, en, zh)| match self {
                Self::En => en,
                Self::Zh => zh,
            })
    }
}

/// `(key, English, 简体中文)`.
const STRINGS: &[(&str, &str, &str)] = &[
    ("product", "usercenter", "用户中心"),
    ("sign_in", "Sign in", "登录"),
    ("sign_in_title", "Sign in to your account", "登录你的账号"),
    ("sign_in_to", "to continue to", "以继续使用"),
    (
        "login_label",
        "Username, e-mail or phone",
        "用户名、邮箱或手机号",
    ),
    ("password", "Password", "密码"),
    ("forgot", "Forgot your password?", "忘记密码?"),
    ("no_account", "No account yet?", "还没有账号?"),
    ("register", "Create account", "注册"),
    ("register_title", "Create your account", "创建你的账号"),
    ("have_account", "Already have an account?", "已有账号?"),
    ("username", "Username", "用户名"),
    ("email", "E-mail", "邮箱"),
    ("phone", "Mobile phone", "手机号"),
    ("optional", "optional", "选填"),
    (
        "password_hint",
        "At least 8 characters; not your username or e-mail.",
        "至少 8 个字符,不能与用户名或邮箱相同。",
    ),
    ("sign_out", "Sign out", "退出登录"),
    ("sign_out_title", "Sign out?", "确定退出登录?"),
    (
        "sign_out_text",
        "You will be signed out of usercenter on this device.",
        "你将在此设备上退出用户中心。",
    ),
    ("signed_out", "You are signed out.", "你已退出登录。"),
    ("forgot_title", "Reset your password", "重置密码"),
    (
        "forgot_text",
        "Enter the e-mail address of your account and we will send you a link to choose a new password.",
        "输入账号的注册邮箱,我们会发送一个重置密码的链接。",
    ),
    ("send_link", "Send reset link", "发送重置链接"),
    (
        "forgot_sent",
        "If an account uses that address, a reset link is on its way. It works for 30 minutes.",
        "如果该邮箱已注册,重置链接已发出,30 分钟内有效。",
    ),
    ("back_to_sign_in", "Back to sign in", "返回登录"),
    ("reset_title", "Choose a new password", "设置新密码"),
    ("new_password", "New password", "新密码"),
    ("set_password", "Set password", "设置密码"),
    (
        "reset_done",
        "Your password is changed. Sign in with the new one.",
        "密码已修改,请使用新密码登录。",
    ),
    (
        "reset_invalid",
        "This reset link is invalid, used or expired. Ask for a new one.",
        "重置链接无效、已使用或已过期,请重新申请。",
    ),
    ("account", "Account", "账号"),
    ("profile", "Profile", "个人资料"),
    ("nickname", "Nickname", "昵称"),
    ("avatar", "Avatar URL", "头像地址"),
    ("gender", "Gender", "性别"),
    ("gender_0", "Not given", "未填写"),
    ("gender_1", "Male", "男"),
    ("gender_2", "Female", "女"),
    ("province", "Province", "省份"),
    ("city", "City", "城市"),
    ("area", "District", "区县"),
    ("birthdate", "Birth date", "出生日期"),
    ("real_name", "Real name", "真实姓名"),
    ("id_card", "ID number", "证件号码"),
    ("certificate_type", "ID type", "证件类型"),
    ("cert_1", "Resident ID card", "居民身份证"),
    ("cert_2", "Passport", "护照"),
    ("cert_3", "Other", "其他"),
    (
        "stored_encrypted",
        "Stored encrypted; shown masked.",
        "加密保存,仅显示掩码。",
    ),
    ("save", "Save", "保存"),
    ("saved", "Saved.", "已保存。"),
    ("change_password", "Change password", "修改密码"),
    ("current_password", "Current password", "当前密码"),
    (
        "password_changed",
        "Password changed. Your other sessions were ended.",
        "密码已修改,其他设备已退出登录。",
    ),
    ("change_email", "Change e-mail", "修改邮箱"),
    ("new_email", "New e-mail", "新邮箱"),
    ("email_changed", "E-mail address changed.", "邮箱已修改。"),
    ("sessions", "Where you are signed in", "登录设备"),
    ("this_device", "this device", "当前设备"),
    ("end_session", "Sign out", "退出"),
    ("end_others", "Sign out everywhere else", "退出其他所有设备"),
    (
        "sessions_ended",
        "Your other sessions were ended.",
        "其他设备已退出登录。",
    ),
    ("groups", "Groups", "用户组"),
    ("no_groups", "You are in no group.", "你不在任何用户组中。"),
    ("since", "since", "自"),
    ("last_seen", "last active", "最近活动"),
    ("language", "Language", "语言"),
    ("error", "Something went wrong", "出错了"),
    ("not_found", "Page not found", "页面不存在"),
    (
        "csrf_failed",
        "The form expired. Please try again.",
        "表单已过期,请重试。",
    ),
    (
        "registration_closed",
        "Registration is switched off.",
        "注册已关闭。",
    ),
    (
        "check_fields",
        "Please check the highlighted fields.",
        "请检查标出的字段。",
    ),
    (
        "invalid_credentials",
        "Wrong account or password.",
        "账号或密码错误。",
    ),
    (
        "too_many",
        "Too many failed attempts. Try again later.",
        "失败次数过多,请稍后再试。",
    ),
    ("my_apps", "My apps", "我的应用"),
    ("my_authorizations", "Authorized apps", "已授权应用"),
    ("admin", "Admin", "管理"),
    ("continue", "Continue", "继续"),
    (
        "apps_intro",
        "Apps you registered to sign people in with this account system.",
        "你注册的、通过本账号系统登录用户的应用。",
    ),
    (
        "no_apps",
        "You have not registered an app yet.",
        "你还没有注册应用。",
    ),
    ("create_app", "Register an app", "注册应用"),
    ("app_name", "App name", "应用名称"),
    ("app_description", "Description", "应用描述"),
    ("app_homepage", "Homepage", "应用主页"),
    ("app_icon", "Icon URL", "应用图标"),
    ("app_redirects", "Redirect URIs", "回调地址"),
    (
        "app_redirects_hint",
        "Several are separated by spaces; each must match exactly.",
        "多个地址用空格分隔;必须完全一致。",
    ),
    ("app_scopes", "Scopes", "权限"),
    ("app_grants", "Grant types", "授权类型"),
    ("token_format", "Access token format", "令牌格式"),
    ("token_policy", "Token policy", "令牌策略"),
    ("public_client", "public", "公开客户端"),
    (
        "public_client_hint",
        "Public client (mobile or single-page app: no secret, PKCE required)",
        "公开客户端(移动端或单页应用:无密钥,须使用 PKCE)",
    ),
    (
        "needs_approval",
        "needs an admin's approval",
        "需管理员批准",
    ),
    ("awaiting_approval", "awaiting approval", "待批准"),
    (
        "secret_once",
        "Copy the secret now: it is shown only this once.",
        "请立即复制密钥:它只显示这一次。",
    ),
    ("edit", "Edit", "编辑"),
    ("reset_secret", "Reset secret", "重置密钥"),
    ("delete_app", "Delete app", "删除应用"),
    (
        "delete_app_confirm",
        "Delete this app? Its tokens stop working at once.",
        "删除此应用?它的令牌将立即失效。",
    ),
    ("app_saved", "App saved.", "应用已保存。"),
    (
        "authorizations_intro",
        "Apps you allowed to use your account, and their valid tokens.",
        "你授权使用账号的应用及其有效令牌。",
    ),
    (
        "no_authorizations",
        "You have not authorized any app.",
        "你还没有授权任何应用。",
    ),
    (
        "update_scopes",
        "Keep only the ticked scopes",
        "仅保留勾选的权限",
    ),
    ("token", "Token", "令牌"),
    ("created", "Created", "创建时间"),
    ("expires", "Expires", "过期时间"),
    ("delete", "Delete", "删除"),
    ("revoke_app", "Revoke access", "撤销授权"),
    (
        "authorization_changed",
        "The authorization was changed.",
        "授权已更新。",
    ),
    (
        "authorization_revoked",
        "Access was revoked; the app's tokens stopped working.",
        "已撤销授权,该应用的令牌已失效。",
    ),
    ("token_deleted", "The token was deleted.", "令牌已删除。"),
    ("consent_title", "Authorize", "授权"),
    (
        "consent_asks",
        "This application asks for permission to:",
        "该应用请求以下权限:",
    ),
    ("allow", "Allow", "允许"),
    ("deny", "Deny", "拒绝"),
    ("signed_in_as", "Signed in as", "当前账号"),
    ("redirect_to", "you will be sent back to", "授权后将返回"),
    ("scope.openid", "Sign you in", "使用你的账号登录"),
    (
        "scope.openid.desc",
        "{client_name} will know who you are ({user})",
        "{client_name} 将获知你的身份({user})",
    ),
    ("scope.profile", "Your profile", "你的个人资料"),
    (
        "scope.profile.desc",
        "{client_name} will read the profile of {user}",
        "{client_name} 将读取 {user} 的个人资料",
    ),
    ("scope.email", "Your e-mail address", "你的邮箱地址"),
    (
        "scope.email.desc",
        "{client_name} will read the e-mail address of {user}",
        "{client_name} 将读取 {user} 的邮箱地址",
    ),
    ("scope.phone", "Your phone number", "你的手机号"),
    (
        "scope.phone.desc",
        "{client_name} will read the phone number of {user}",
        "{client_name} 将读取 {user} 的手机号",
    ),
    ("scope.user.read", "Read your account", "读取你的账号信息"),
    (
        "scope.user.read.desc",
        "{client_name} will read the account details of {user}",
        "{client_name} 将读取 {user} 的账号信息",
    ),
    ("scope.basic", "Basic access", "基本权限"),
    (
        "scope.basic.desc",
        "{client_name} will use the basic interfaces as {user}",
        "{client_name} 将以 {user} 的身份使用基本接口",
    ),
    ("scope.develop", "Advanced interfaces", "高级接口"),
    (
        "scope.develop.desc",
        "{client_name} will use the advanced interfaces",
        "{client_name} 将使用高级接口",
    ),
    ("scope.root", "Super interfaces", "超级接口"),
    (
        "scope.root.desc",
        "{client_name} will use the super interfaces",
        "{client_name} 将使用超级接口",
    ),
    (
        "authorize_error",
        "This authorization request cannot be completed",
        "无法完成此授权请求",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn accept_language_picks_by_quality() {
        let mut h = HeaderMap::new();
        assert_eq!(Lang::from_accept_language(&h), Lang::En);
        h.insert(
            "accept-language",
            HeaderValue::from_static("zh-CN,zh;q=0.9,en;q=0.8"),
        );
        assert_eq!(Lang::from_accept_language(&h), Lang::Zh);
        h.insert(
            "accept-language",
            HeaderValue::from_static("fr;q=1, en;q=0.5, zh;q=0.4"),
        );
        assert_eq!(Lang::from_accept_language(&h), Lang::En);
    }

    #[test]
    fn every_key_is_unique() {
        let mut keys: Vec<&str> = STRINGS.iter().map(|(k, _, _)| *k).collect();
        keys.sort_unstable();
        let before = keys.len();
        keys.dedup();
        assert_eq!(before, keys.len());
        assert_eq!(Lang::Zh.t("sign_in"), "登录");
        assert_eq!(Lang::En.t("no_such_key"), "no_such_key");
    }
}
