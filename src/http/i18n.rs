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

    /// A message of the server's in this language. Messages are written in English,
    /// as the JSON API answers them; a page shows the Chinese of those it knows
    /// ([`MESSAGES`]), with their figures kept (a waiting time "…; try again in N
    /// seconds", a limit "must be at most N characters", a range of seconds) or a
    /// leading subject ("https://x/cb: must not …"), and any other as it is.
    pub fn message(self, text: &str) -> String {
        if self == Self::En {
            return text.to_string();
        }
        let known = |m: &str| MESSAGES.iter().find(|(en, _)| *en == m).map(|(_, zh)| *zh);
        if let Some(zh) = known(text) {
            return zh.to_string();
        }
        if let Some((head, wait)) = text.rsplit_once("; try again in ")
            && let Some(n) = wait.strip_suffix(" seconds")
        {
            return format!("{}；请在 {n} 秒后重试", self.message(head));
        }
        if let Some(n) = text
            .strip_prefix("must be at most ")
            .and_then(|t| t.strip_suffix(" characters"))
        {
            return format!("最多 {n} 个字符");
        }
        if let Some((min, max)) = text
            .strip_prefix("must be a whole number of seconds from ")
            .and_then(|t| t.split_once(" to "))
        {
            return format!("须为 {min} 到 {max} 之间的整数秒");
        }
        if let Some((subject, why)) = text.split_once(": ")
            && let Some(zh) = known(why)
        {
            return format!("{subject}：{zh}");
        }
        text.to_string()
    }
}

/// `(English, 简体中文)`: the server's messages that pages show (field checks, taken
/// names, refusals, the authorization endpoint's error page).
const MESSAGES: &[(&str, &str)] = &[
    ("is required", "为必填项"),
    ("is not known", "不存在"),
    ("is not a valid e-mail address", "不是有效的邮箱地址"),
    ("is not an e-mail address", "不是邮箱地址"),
    ("is not a valid phone number", "不是有效的手机号码"),
    ("is not your current password", "与当前密码不符"),
    ("is too common; choose another", "过于常见，请换一个"),
    (
        "must not be your username or e-mail address",
        "不能与用户名或邮箱相同",
    ),
    ("must be at least 8 characters long", "至少需要 8 个字符"),
    ("must be at most 256 characters long", "最多 256 个字符"),
    ("must not contain control characters", "不能包含控制字符"),
    ("must be an http(s) URL", "必须是 http(s) 网址"),
    (
        "must be 0 (unknown), 1 (male) or 2 (female)",
        "必须是 0（未知）、1（男）或 2（女）",
    ),
    (
        "must be a date as YYYY-MM-DD",
        "必须是 YYYY-MM-DD 格式的日期",
    ),
    ("must be letters and digits only", "只能包含字母和数字"),
    (
        "must be 2–64 letters, digits, '.', '_' or '-', and not only digits",
        "须为 2–64 个字母、数字、“.”、“_” 或 “-”，且不能全是数字",
    ),
    ("must be 1–100 characters", "须为 1–100 个字符"),
    ("must be 1–64 characters", "须为 1–64 个字符"),
    ("must be a positive number", "必须是正数"),
    (
        "must be 1 to 128 visible ASCII characters",
        "须为 1 到 128 个可见 ASCII 字符",
    ),
    (
        "must be 5 to 20 digits, with an optional leading + (spaces and - allowed)",
        "须为 5 到 20 位数字，可以 + 开头（可含空格和 -）",
    ),
    (
        "at least one is required for the authorization_code and implicit grants",
        "使用 authorization_code 或 implicit 授权方式时至少需要一个",
    ),
    (
        "a public client has no secret, so it cannot use client_credentials or offline_cert",
        "公开客户端没有密钥，不能使用 client_credentials 或 offline_cert",
    ),
    ("must be opaque or jwt", "必须是 opaque 或 jwt"),
    (
        "must be independent, reuse or replace",
        "必须是 independent、reuse 或 replace",
    ),
    (
        "must be RS256, ES256 or EdDSA",
        "必须是 RS256、ES256 或 EdDSA",
    ),
    (
        "only develop, root and offline_cert need approval",
        "只有 develop、root 和 offline_cert 需要审批",
    ),
    (
        "use 1–64 letters, digits, '.', '_', '-' or ':'",
        "请使用 1–64 个字母、数字、“.”、“_”、“-” 或 “:”",
    ),
    (
        "use 1–64 letters, digits, '-' or '_'",
        "请使用 1–64 个字母、数字、“-” 或 “_”",
    ),
    (
        "is the name of a grant an admin approves, not of a scope",
        "这是需管理员审批的授权方式的名称，不能用作权限范围名",
    ),
    (
        "must be GET, POST, PUT, PATCH, DELETE or *",
        "必须是 GET、POST、PUT、PATCH、DELETE 或 *",
    ),
    ("must start with /", "必须以 / 开头"),
    (
        "grant at least one scope, or revoke the app",
        "请至少保留一个权限范围，或撤销对该应用的授权",
    ),
    (
        "must be a non-empty absolute URI without spaces",
        "必须是不含空格的绝对 URI",
    ),
    (
        "must not contain a fragment (RFC 6749 §3.1.2)",
        "不能包含片段 #（RFC 6749 §3.1.2）",
    ),
    (
        "an http(s) redirect URI needs a host",
        "http(s) 回调地址需要主机名",
    ),
    ("must not contain user information", "不能包含用户信息"),
    (
        "must not carry code, state, iss or token parameters",
        "不能带有 code、state、iss 或令牌参数",
    ),
    (
        "this e-mail address is already registered",
        "该邮箱已被注册",
    ),
    (
        "this phone number is already registered",
        "该手机号已被注册",
    ),
    ("this username is already taken", "该用户名已被占用"),
    (
        "an authorization can only be narrowed here",
        "此处只能缩小授权范围",
    ),
    ("this account is disabled", "此账号已停用"),
    ("wrong account or password", "账号或密码错误"),
    ("sign in first", "请先登录"),
    ("not found", "找不到所请求的内容"),
    (
        "the server could not complete the request",
        "服务器未能完成请求",
    ),
    ("registration is switched off", "注册已关闭"),
    (
        "the reset link is invalid, used or expired",
        "重置链接无效、已使用或已过期",
    ),
    ("too many failed attempts", "失败次数过多"),
    ("too many codes asked for", "请求登录二维码过于频繁"),
    ("too many codes entered", "输入代码次数过多"),
    ("must be true or false", "必须是 true 或 false"),
    ("must be lost or found", "必须是 lost 或 found"),
    (
        "too many codes for this phone or client",
        "该手机号或应用的验证码过多",
    ),
    ("too many codes from this app", "该应用发送的验证码过多"),
    ("the client_id parameter is missing", "缺少 client_id 参数"),
    ("this application is not registered", "该应用未注册"),
    (
        "the redirect_uri parameter is missing",
        "缺少 redirect_uri 参数",
    ),
    (
        "the redirect_uri is not registered for this application",
        "该应用未登记此 redirect_uri",
    ),
    (
        "the CSRF token is missing or wrong",
        "表单已过期，请刷新页面后重试",
    ),
];

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
    ("forgot", "Forgot your password?", "忘记密码？"),
    ("reset_again", "Get a new link", "重新获取链接"),
    ("no_account", "No account yet?", "还没有账号？"),
    ("register", "Create account", "注册"),
    ("register_title", "Create your account", "创建你的账号"),
    ("have_account", "Already have an account?", "已有账号？"),
    ("username", "Username", "用户名"),
    ("email", "E-mail", "邮箱"),
    ("phone", "Mobile phone", "手机号"),
    ("optional", "optional", "选填"),
    (
        "password_hint",
        "At least 8 characters; not your username or e-mail.",
        "至少 8 个字符，不能与用户名或邮箱相同。",
    ),
    ("sign_out", "Sign out", "退出登录"),
    ("sign_out_title", "Sign out?", "确定退出登录？"),
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
        "输入账号的注册邮箱，我们会发送一个重置密码的链接。",
    ),
    ("send_link", "Send reset link", "发送重置链接"),
    (
        "forgot_sent",
        "If an account uses that address, a reset link is on its way. It works for 30 minutes.",
        "如果该邮箱已注册，重置链接已发出，30 分钟内有效。",
    ),
    ("back_to_sign_in", "Back to sign in", "返回登录"),
    ("reset_title", "Choose a new password", "设置新密码"),
    ("new_password", "New password", "新密码"),
    ("set_password", "Set password", "设置密码"),
    (
        "reset_done",
        "Your password is changed. Sign in with the new one.",
        "密码已修改，请使用新密码登录。",
    ),
    (
        "reset_invalid",
        "This reset link is invalid, used or expired. Ask for a new one.",
        "重置链接无效、已使用或已过期，请重新申请。",
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
        "加密保存，仅显示掩码。",
    ),
    ("save", "Save", "保存"),
    ("saved", "Saved.", "已保存。"),
    ("change_password", "Change password", "修改密码"),
    ("current_password", "Current password", "当前密码"),
    (
        "password_changed",
        "Password changed. Your other sessions were ended.",
        "密码已修改，其他设备已退出登录。",
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
    ("cards", "Cards", "卡片"),
    ("card_in_use", "in use", "正常"),
    ("card_lost", "reported lost", "已挂失"),
    ("report_lost", "Report lost", "挂失"),
    ("report_found", "Found it", "解除挂失"),
    (
        "card_updated",
        "Your card's state was saved. Terminals see it at once.",
        "卡片状态已保存，终端即刻生效。",
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
        "表单已过期，请重试。",
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
        "失败次数过多，请稍后再试。",
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
        "多个地址用空格分隔；必须完全一致。",
    ),
    ("app_scopes", "Scopes", "权限"),
    ("app_grants", "Grant types", "授权类型"),
    ("token_format", "Access token format", "令牌格式"),
    ("token_policy", "Token policy", "令牌策略"),
    ("public_client", "public", "公开客户端"),
    (
        "public_client_hint",
        "Public client (mobile or single-page app: no secret, PKCE required)",
        "公开客户端（移动端或单页应用：无密钥，须使用 PKCE）",
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
        "请立即复制密钥：它只显示这一次。",
    ),
    ("edit", "Edit", "编辑"),
    ("reset_secret", "Reset secret", "重置密钥"),
    ("delete_app", "Delete app", "删除应用"),
    (
        "delete_app_confirm",
        "Delete this app? Its tokens stop working at once.",
        "删除此应用？它的令牌将立即失效。",
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
    ("token", "Access token", "访问令牌"),
    ("refresh_token", "Refresh token", "刷新令牌"),
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
        "已撤销授权，该应用的令牌已失效。",
    ),
    ("token_deleted", "The token was deleted.", "令牌已删除。"),
    ("consent_title", "Authorize", "授权"),
    (
        "consent_asks",
        "This application asks for permission to:",
        "该应用请求以下权限：",
    ),
    (
        "scan_title",
        "Sign in on another device",
        "在其他设备上登录",
    ),
    (
        "scan_asks",
        "A browser asks to be signed in to your account. Confirm only if it is yours, in front of you:",
        "有浏览器请求登录你的账号。仅当它是你面前自己的设备时才确认：",
    ),
    ("scan_app", "App", "应用"),
    ("scan_device", "Device", "设备"),
    ("scan_ip", "Address", "地址"),
    ("scan_confirm", "Sign it in", "确认登录"),
    ("cancel", "Cancel", "取消"),
    (
        "scan_done",
        "Done: the other browser is signed in.",
        "已完成：另一台设备已登录。",
    ),
    (
        "scan_cancelled",
        "Cancelled: the other browser is not signed in.",
        "已取消：另一台设备不会登录。",
    ),
    (
        "scan_expired",
        "This code has expired or was used. Show a new one on the login page.",
        "此二维码已过期或已使用，请在登录页面重新生成。",
    ),
    ("scan_with_phone", "Scan with your phone", "用手机扫码登录"),
    (
        "scan_hint",
        "Open this code on a phone where you are signed in, and confirm there.",
        "请用已登录的手机扫描此二维码，并在手机上确认。",
    ),
    ("scan_again", "Show a new code", "重新生成二维码"),
    ("device_title", "Connect a device", "连接设备"),
    (
        "device_enter",
        "Enter the code your device shows.",
        "请输入设备上显示的代码。",
    ),
    ("device_code", "Code", "代码"),
    (
        "device_asks",
        "A device asks to use your account. Allow it only if it shows this code:",
        "有设备请求使用你的账号。仅当设备上显示的是以下代码时才允许：",
    ),
    (
        "device_unknown",
        "This code is unknown or has expired. Check it on your device.",
        "代码无效或已过期，请核对设备上的代码。",
    ),
    (
        "device_done",
        "Done. Go back to your device: it is signed in.",
        "已完成。请回到你的设备，它已登录。",
    ),
    (
        "device_denied",
        "Denied. The device gets no access to your account.",
        "已拒绝。该设备不会获得你账号的访问权限。",
    ),
    ("allow", "Allow", "允许"),
    ("deny", "Deny", "拒绝"),
    ("signed_in_as", "Signed in as", "当前账号"),
    ("redirect_to", "you will be sent back to", "授权后将返回"),
    ("scope.openid", "Sign you in", "使用你的账号登录"),
    (
        "scope.openid.desc",
        "{client_name} will know who you are ({user})",
        "{client_name} 将获知你的身份（{user}）",
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
    ("scope.read", "Read your profile", "读取你的个人资料"),
    (
        "scope.read.desc",
        "{client_name} will read the profile of {user}",
        "{client_name} 将读取 {user} 的个人资料",
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
    // The admin console (issue 5).
    ("admin.console", "Admin console", "管理后台"),
    ("admin.signed_in_as", "signed in as", "当前账号"),
    ("admin.forbidden.title", "Admins only", "仅限管理员"),
    (
        "admin.forbidden.text",
        "This page is for administrators. Your account is not an administrator.",
        "此页面仅供管理员使用，你的账号不是管理员。",
    ),
    ("admin.nav.settings", "Settings", "设置"),
    ("admin.nav.scopes", "Scopes", "权限范围"),
    ("admin.nav.users", "Users", "用户"),
    ("admin.nav.groups", "Groups", "用户组"),
    ("admin.nav.clients", "Apps", "应用"),
    ("admin.nav.cards", "Cards", "卡片"),
    ("admin.nav.audit", "Audit log", "审计日志"),
    ("admin.status", "Status", "状态"),
    ("admin.created", "Created", "创建时间"),
    ("admin.active", "Active", "正常"),
    ("admin.disabled", "Disabled", "已停用"),
    ("admin.role_admin", "Admin", "管理员"),
    ("admin.enable", "Enable", "启用"),
    ("admin.disable", "Disable", "停用"),
    ("admin.edit", "Edit", "编辑"),
    ("admin.remove", "Remove", "移除"),
    ("admin.search", "Search", "搜索"),
    ("admin.filter", "Filter", "筛选"),
    ("admin.clear", "Clear", "清除"),
    ("admin.none", "Nothing here yet.", "暂无内容。"),
    ("admin.prev", "Previous", "上一页"),
    ("admin.next", "Next", "下一页"),
    ("admin.page", "Page", "第"),
    ("admin.page_suffix", "", "页"),
    ("admin.seconds", "seconds", "秒"),
    ("admin.confirm", "Are you sure?", "确定要这样做吗？"),
    ("admin.danger_zone", "Danger zone", "危险操作"),
    ("admin.f.name", "Name", "名称"),
    ("admin.f.display_name", "Display name", "显示名称"),
    ("admin.f.description", "Description", "描述"),
    ("admin.f.path", "Resource path", "资源路径"),
    ("admin.f.method", "HTTP method", "HTTP 方法"),
    ("admin.f.icon", "Icon", "图标"),
    ("admin.f.card_no", "Card number", "卡号"),
    (
        "admin.f.user",
        "User (username, e-mail or phone)",
        "用户（用户名、邮箱或手机号）",
    ),
    ("admin.f.password", "Password", "密码"),
    ("admin.f.scope", "Scope", "权限范围"),
    ("admin.f.group", "Group", "用户组"),
    ("admin.f.key", "Setting", "设置项"),
    ("admin.f.action", "Action", "操作"),
    // Settings (seed 002 and SPEC §1).
    (
        "admin.set.section.accounts",
        "Accounts and sign-in",
        "账号与登录",
    ),
    (
        "admin.set.section.authorize",
        "Authorization requests",
        "授权请求",
    ),
    ("admin.set.section.lifetimes", "Lifetimes", "有效期"),
    ("admin.set.section.other", "Other", "其他"),
    (
        "admin.set.allow_registration",
        "Allow registration",
        "允许注册",
    ),
    (
        "admin.set.allow_registration.hint",
        "When off, new accounts can only be created by an admin.",
        "关闭后，只有管理员能创建新账号。",
    ),
    (
        "admin.set.allow_password_grant",
        "Allow the password grant",
        "允许密码模式",
    ),
    (
        "admin.set.allow_password_grant.hint",
        "Apps may exchange a user's password for a token (grant_type=password).",
        "应用可用用户的密码换取令牌（grant_type=password）。",
    ),
    (
        "admin.set.dynamic_registration",
        "Dynamic client registration",
        "动态注册应用",
    ),
    (
        "admin.set.dynamic_registration.hint",
        "Anyone may register an app at /oauth/register (RFC 7591).",
        "任何人都可在 /oauth/register 注册应用（RFC 7591）。",
    ),
    (
        "admin.set.allow_implicit",
        "Allow the implicit grant",
        "允许简化模式",
    ),
    (
        "admin.set.allow_implicit.hint",
        "Tokens handed over in the redirect (response_type=token); not recommended.",
        "令牌直接在跳转地址中返回（response_type=token），不推荐。",
    ),
    (
        "admin.set.require_state",
        "Require state",
        "强制 state 参数",
    ),
    (
        "admin.set.require_state.hint",
        "Refuse authorization requests without a state parameter.",
        "拒绝没有 state 参数的授权请求。",
    ),
    (
        "admin.set.exact_redirect_uri",
        "Exact redirect URI match",
        "回调地址精确匹配",
    ),
    (
        "admin.set.exact_redirect_uri.hint",
        "The redirect_uri must equal a registered one.",
        "redirect_uri 必须与登记的地址完全相同。",
    ),
    (
        "admin.set.exact_warning",
        "Exact matching is off: only the same scheme, host and port and a path under the registered one are then allowed.",
        "已关闭精确匹配：此时只允许相同的协议、主机和端口，且路径位于登记的路径之下。",
    ),
    (
        "admin.set.access_token_ttl",
        "Access token lifetime",
        "访问令牌有效期",
    ),
    (
        "admin.set.access_token_ttl.hint",
        "60 s to 366 days; an app may set its own.",
        "60 秒至 366 天；应用可单独设置。",
    ),
    (
        "admin.set.refresh_token_ttl",
        "Refresh token lifetime",
        "刷新令牌有效期",
    ),
    (
        "admin.set.refresh_token_ttl.hint",
        "60 s to 10 years; an app may set its own.",
        "60 秒至 10 年；应用可单独设置。",
    ),
    (
        "admin.set.code_ttl",
        "Authorization code lifetime",
        "授权码有效期",
    ),
    (
        "admin.set.code_ttl.hint",
        "10 s to 1 hour.",
        "10 秒至 1 小时。",
    ),
    (
        "admin.set.refresh_grace_seconds",
        "Refresh token grace period",
        "刷新令牌宽限期",
    ),
    (
        "admin.set.refresh_grace_seconds.hint",
        "0 to 60 s in which a just-rotated refresh token still works (for apps that retry).",
        "刚轮换的刷新令牌在此时间内仍可使用（0–60 秒，便于应用重试）。",
    ),
    // Scopes (seed 002).
    ("admin.scope.new", "New scope", "新建权限范围"),
    ("admin.scope.create", "Create scope", "创建权限范围"),
    ("admin.scope.edit", "Edit scope", "编辑权限范围"),
    ("admin.scope.delete", "Delete this scope", "删除此权限范围"),
    ("admin.scope.default", "default", "默认"),
    ("admin.scope.builtin", "built in", "内置"),
    (
        "admin.scope.builtin_text",
        "This scope is built in: its name and texts (shown in the reader's language) stay, and it cannot be deleted; its guard, default flag and icon can change.",
        "这是内置的权限范围：名称和说明文字（按读者的语言显示）不变，也不能删除；可修改其保护的路径、方法、默认标记和图标。",
    ),
    (
        "admin.scope.default_hint",
        "Default: always granted",
        "默认：总是授予",
    ),
    (
        "admin.scope.name_hint",
        "Letters, digits, '.', '_', '-' or ':'; cannot be changed later.",
        "字母、数字、“.”、“_”、“-”或英文冒号“:”；创建后不能修改。",
    ),
    (
        "admin.scope.path_hint",
        "The API path this scope guards, e.g. /api/orders.",
        "此权限范围保护的接口路径，例如 /api/orders。",
    ),
    (
        "admin.scope.description_hint",
        "Shown on the consent page; {user} and {client_name} are replaced.",
        "显示在授权页面上；{user} 和 {client_name} 会被替换。",
    ),
    // Users.
    (
        "admin.users.search",
        "Username, e-mail or phone",
        "用户名、邮箱或手机号",
    ),
    ("admin.user.account", "Account", "账号"),
    ("admin.user.enable", "Enable account", "启用账号"),
    ("admin.user.disable", "Disable account", "停用账号"),
    (
        "admin.user.disable_confirm",
        "Disable this account and end all its sessions?",
        "停用此账号并结束其所有会话？",
    ),
    (
        "admin.user.disable_hint",
        "A disabled account cannot sign in; its sessions end and its tokens stop working.",
        "停用的账号无法登录，其会话立即结束，令牌失效。",
    ),
    ("admin.user.make_admin", "Make admin", "设为管理员"),
    ("admin.user.remove_admin", "Remove admin role", "取消管理员"),
    (
        "admin.user.reset_password",
        "Set a new password",
        "重设密码",
    ),
    (
        "admin.user.reset_hint",
        "Every session of this user ends; tell them the new password in a safe way.",
        "该用户的所有会话都会结束；请以安全的方式告知新密码。",
    ),
    ("admin.user.add_group", "Add to group", "加入用户组"),
    ("admin.user.sessions", "Active sessions", "活动会话"),
    // Groups.
    ("admin.group.members", "Members", "成员"),
    ("admin.group.new", "New group", "新建用户组"),
    ("admin.group.create", "Create group", "创建用户组"),
    ("admin.group.add_member", "Add member", "添加成员"),
    ("admin.group.delete", "Delete this group", "删除此用户组"),
    // Apps.
    (
        "admin.clients.search",
        "App name or client_id",
        "应用名称或 client_id",
    ),
    (
        "admin.clients.pending_only",
        "Waiting for approval",
        "待审批",
    ),
    ("admin.clients.app", "App", "应用"),
    ("admin.clients.owner", "Owner", "所有者"),
    ("admin.clients.grants", "Grant types", "授权类型"),
    ("admin.clients.scopes", "Scopes", "权限范围"),
    ("admin.clients.requests", "Approvals", "审批"),
    ("admin.clients.public", "public", "公开客户端"),
    ("admin.clients.confidential", "confidential", "机密客户端"),
    ("admin.clients.approve", "Approve", "批准"),
    ("admin.clients.refuse", "Refuse", "拒绝"),
    ("admin.clients.withdraw", "Withdraw", "撤销"),
    (
        "admin.clients.hint",
        "develop, root and offline_cert (card terminals) work only once approved here; withdrawing offline_cert ends the tokens the app holds for people. A disabled app's secret and tokens stop working at once.",
        "develop、root 和 offline_cert（刷卡终端）需在此批准后才能使用；撤回 offline_cert 会使该应用持有的用户令牌立即失效。停用的应用，其密钥和令牌立即失效。",
    ),
    // Cards (seed 004).
    ("admin.cards.bind", "Bind a card", "绑定卡片"),
    (
        "admin.cards.search",
        "Card number, username or e-mail",
        "卡号、用户名或邮箱",
    ),
    ("admin.cards.bound", "Bound", "绑定时间"),
    ("admin.cards.holder", "Holder", "持卡人"),
    ("admin.cards.lost", "Lost", "已挂失"),
    ("admin.cards.mark_lost", "Mark lost", "挂失"),
    ("admin.cards.mark_found", "Mark found", "解除挂失"),
    ("admin.cards.unbind", "Unbind", "解绑"),
    // Audit log.
    ("admin.audit.time", "Time (UTC)", "时间（UTC）"),
    ("admin.audit.actor", "Actor", "操作者"),
    ("admin.audit.actor_hint", "Actor's username", "操作者用户名"),
    ("admin.audit.action", "Action", "操作"),
    ("admin.audit.all_actions", "All actions", "全部操作"),
    ("admin.audit.target", "Target", "对象"),
    ("admin.audit.detail", "Detail", "详情"),
    ("admin.audit.system", "system", "系统"),
    // Notices after a change.
    (
        "admin.done.settings_saved",
        "Settings saved.",
        "设置已保存。",
    ),
    (
        "admin.done.scope_created",
        "Scope created.",
        "权限范围已创建。",
    ),
    ("admin.done.scope_saved", "Scope saved.", "权限范围已保存。"),
    (
        "admin.done.scope_deleted",
        "Scope deleted.",
        "权限范围已删除。",
    ),
    (
        "admin.done.disable",
        "Account disabled; its sessions have ended.",
        "账号已停用，其会话已结束。",
    ),
    ("admin.done.enable", "Account enabled.", "账号已启用。"),
    ("admin.done.make_admin", "Now an admin.", "已设为管理员。"),
    (
        "admin.done.remove_admin",
        "Admin role removed.",
        "已取消管理员。",
    ),
    (
        "admin.done.reset_password",
        "Password set; the user's sessions have ended.",
        "密码已重设，该用户的会话已结束。",
    ),
    (
        "admin.done.add_group",
        "Added to the group.",
        "已加入用户组。",
    ),
    (
        "admin.done.remove_group",
        "Removed from the group.",
        "已移出用户组。",
    ),
    (
        "admin.done.group_created",
        "Group created.",
        "用户组已创建。",
    ),
    (
        "admin.done.group_deleted",
        "Group deleted.",
        "用户组已删除。",
    ),
    ("admin.done.add_member", "Member added.", "成员已添加。"),
    (
        "admin.done.remove_member",
        "Member removed.",
        "成员已移除。",
    ),
    ("admin.done.client_approve", "Scope approved.", "已批准。"),
    ("admin.done.client_refuse", "Scope refused.", "已拒绝。"),
    ("admin.done.client_disable", "App disabled.", "应用已停用。"),
    ("admin.done.client_enable", "App enabled.", "应用已启用。"),
    ("admin.done.card_bind", "Card bound.", "卡片已绑定。"),
    ("admin.done.card_lost", "Card marked lost.", "卡片已挂失。"),
    (
        "admin.done.card_found",
        "Card marked found.",
        "卡片已解除挂失。",
    ),
    ("admin.done.card_unbind", "Card unbound.", "卡片已解绑。"),
    // Why a change was refused.
    (
        "admin.err.unknown_user",
        "No user has this username, e-mail or phone.",
        "没有使用此用户名、邮箱或手机号的用户。",
    ),
    (
        "admin.err.self_disable",
        "You cannot disable your own account.",
        "不能停用自己的账号。",
    ),
    (
        "admin.err.last_admin",
        "The last admin cannot lose the admin role.",
        "不能取消最后一位管理员。",
    ),
    (
        "admin.err.last_enabled_admin",
        "The last enabled admin cannot be disabled.",
        "唯一未停用的管理员不能被停用。",
    ),
    (
        "admin.err.builtin_scope",
        "A built-in scope cannot be deleted.",
        "内置权限范围不能删除。",
    ),
    (
        "admin.err.scope_exists",
        "A scope with this name exists.",
        "同名的权限范围已存在。",
    ),
    (
        "admin.err.group_exists",
        "A group with this name exists.",
        "同名的用户组已存在。",
    ),
    (
        "admin.err.card_bound",
        "This card is already bound to a user.",
        "此卡片已绑定到某个用户。",
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
    fn server_messages_show_in_chinese_with_their_figures() {
        assert_eq!(Lang::En.message("is required"), "is required");
        assert_eq!(Lang::Zh.message("is required"), "为必填项");
        assert_eq!(
            Lang::Zh.message("too many failed attempts; try again in 300 seconds"),
            "失败次数过多；请在 300 秒后重试"
        );
        assert_eq!(
            Lang::Zh.message("must be at most 64 characters"),
            "最多 64 个字符"
        );
        assert_eq!(
            Lang::Zh.message("https://a.example/cb: must not contain user information"),
            "https://a.example/cb：不能包含用户信息"
        );
        assert_eq!(Lang::Zh.message("something new"), "something new");
        let mut english: Vec<&str> = MESSAGES.iter().map(|(en, _)| *en).collect();
        english.sort_unstable();
        let before = english.len();
        english.dedup();
        assert_eq!(before, english.len());
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
