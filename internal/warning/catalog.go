package warning

// catalog holds every entry of warnings, by code. The codes are the reason
// codes of the default risk policy (internal/risk/default.yaml); a test
// checks that every rule of that policy has an entry here.
var catalog = func() map[string]Warning {
	m := make(map[string]Warning, len(warnings))
	for _, w := range warnings {
		if _, dup := m[w.Code]; dup {
			panic("warning: code " + w.Code + " is in the catalog twice")
		}
		m[w.Code] = w
	}
	return m
}()

var warnings = []Warning{
	{
		Code: "device_compromised", Severity: Danger,
		Title: zhEn("这台设备已被入侵，本次付款已停止", "This device has been taken over - the payment was stopped"),
		Text: zhEn("我们的检查发现这台设备上有恶意软件或被篡改的设置，骗子可能看到或改动您的付款。为了保护您的钱，本次付款没有进行。",
			"Our check found malicious software or tampered settings on this device. Criminals could see or change your payment. To protect your money, this payment was not made."),
		Steps: steps(
			[]string{"先不要在这台设备上付款或登录网银。", "按照下面每一项的说明处理设备上的问题。", "处理完后打开健康助手重新检查，显示“安全”后再付款。", "如果您已经输入过密码，请用另一台安全的设备修改支付密码。"},
			[]string{"Do not pay or use online banking on this device for now.", "Fix each problem listed below as described.", "Open the Healthgate agent and check again; pay once it says the device is safe.", "If you already typed a password here, change your payment password from another, safe device."}),
	},
	{
		Code: "remote_control_active", Severity: Danger,
		Title: zhEn("有远程控制软件正在运行，本次付款已停止", "A remote-control program is running - the payment was stopped"),
		Text: zhEn("有人可能正在远程操作您的设备。骗子常常冒充客服或警察，让您装上这类软件，再用您的设备转走钱。正规机构不会要求您这样做。",
			"Someone may be controlling your device from afar. Criminals often pose as customer service or police, ask you to install such a program and then move your money from your own device. No genuine organisation asks you to do this."),
		Steps: steps(
			[]string{"立即挂断与“客服”或“警察”的电话或视频。", "关闭并卸载远程控制软件（如 TeamViewer、AnyDesk、向日葵、ToDesk）。", "用官方电话联系您的银行或支付平台。"},
			[]string{"Hang up any call or video chat with the 'customer service' or 'police' now.", "Close and uninstall the remote-control program (for example TeamViewer, AnyDesk, Sunlogin, ToDesk).", "Call your bank or payment platform on its official number."}),
	},
	{
		Code: "device_at_risk", Severity: Caution,
		Title: zhEn("这台设备的保护不完整", "This device is not fully protected"),
		Text: zhEn("这台设备少了一些保护（例如杀毒软件或防火墙没开、系统很久没更新），付款时更容易被骗子利用。您可以继续，但最好先修好。",
			"Some protection is missing on this device (for example antivirus or firewall off, or system updates not installed for a long time), which makes it easier for criminals to interfere with your payment. You can go on, but it is better to fix it first."),
		Steps: steps(
			[]string{"按照下面每一项的说明打开缺少的保护。", "打开健康助手重新检查。"},
			[]string{"Switch on the missing protection as described for each item below.", "Open the Healthgate agent and check again."}),
	},
	{
		Code: "device_at_risk_large_amount", Severity: Caution,
		Title: zhEn("金额较大，而这台设备的保护不完整：需要再确认一次", "A large amount from a device that is not fully protected - please confirm it is you"),
		Text: zhEn("这台设备少了一些保护，而这笔付款金额较大。为了确认是您本人，我们会请您再验证一次（例如短信验证码）。",
			"Some protection is missing on this device and this payment is large. To make sure it is really you, we will ask you to confirm once more (for example with a text-message code)."),
		Steps: steps(
			[]string{"完成额外的验证（例如输入短信验证码）。", "之后按照下面的说明修好设备，下次就不用再验证。"},
			[]string{"Complete the extra check (for example enter the text-message code).", "Then fix the device as described below so you are not asked next time."}),
	},
	{
		Code: "device_not_appraised", Severity: Caution,
		Title: zhEn("无法确认这台设备是否安全", "We could not tell whether this device is safe"),
		Text:  zhEn("健康助手没能完成检查，所以我们会请您再验证一次。", "The Healthgate agent could not finish its check, so we will ask you to confirm it is you."),
		Steps: steps([]string{"完成额外的验证。", "打开健康助手，让它重新检查一次。"}, []string{"Complete the extra check.", "Open the Healthgate agent and let it check again."}),
	},
	{
		Code: "certificate_missing", Severity: Caution,
		Title: zhEn("没有这台设备的安全检查结果", "There is no safety check for this device"),
		Text: zhEn("我们不知道这台设备是否安全（可能没有安装健康助手），所以会请您再验证一次。这不是拒绝付款。",
			"We do not know whether this device is safe (the Healthgate agent may not be installed), so we will ask you to confirm it is you. The payment is not refused."),
		Steps: steps([]string{"完成额外的验证（例如短信验证码）。", "安装健康助手，以后付款会更顺畅。"}, []string{"Complete the extra check (for example a text-message code).", "Install the Healthgate agent to make future payments smoother."}),
	},
	{
		Code: "certificate_expired", Severity: Caution,
		Title: zhEn("这台设备的安全检查已过期", "This device's safety check is out of date"),
		Text:  zhEn("设备的安全检查结果已经过期，所以会请您再验证一次。", "The device's last safety check has expired, so we will ask you to confirm it is you."),
		Steps: steps([]string{"完成额外的验证。", "确认健康助手正在运行，它会自动更新检查结果。"}, []string{"Complete the extra check.", "Make sure the Healthgate agent is running: it renews the check by itself."}),
	},
	{
		Code: "certificate_unproven", Severity: Caution,
		Title: zhEn("无法确认安全检查属于这台设备", "We could not confirm the safety check belongs to this device"),
		Text: zhEn("这次没有收到设备的签名确认，安全检查结果可能被别人拿来用。金额较大，所以会请您再验证一次。",
			"The device did not sign this payment, so the safety check could have been copied by someone else. The amount is large, so we will ask you to confirm it is you."),
		Steps: steps([]string{"完成额外的验证。", "在装有健康助手的设备上，通过浏览器或应用直接付款。"}, []string{"Complete the extra check.", "Pay directly in the browser or app on the device that runs the Healthgate agent."}),
	},
	{
		Code: "new_device", Severity: Info,
		Title: zhEn("第一次在这台设备上使用这个账户", "First time this account is used on this device"),
		Text:  zhEn("这是这个账户第一次在这台设备上使用。", "This is the first time this account is used on this device."),
		Steps: steps([]string{"如果不是您本人操作，请立即修改密码。"}, []string{"If this was not you, change your password now."}),
	},
	{
		Code: "new_device_high_amount", Severity: Caution,
		Title: zhEn("新设备上的大额付款：需要再确认一次", "A large payment from a new device - please confirm it is you"),
		Text: zhEn("这个账户第一次在这台设备上付款，而且金额较大。骗子拿到密码后常常这样做，所以会请您再验证一次。",
			"This account has never paid from this device before and the amount is large. This is what criminals do once they have a password, so we will ask you to confirm it is you."),
		Steps: steps([]string{"完成额外的验证。", "如果不是您本人，请不要验证，并立即联系平台客服。"}, []string{"Complete the extra check.", "If this is not you, do not confirm, and contact the platform's customer service now."}),
	},
	{
		Code: "velocity_account", Severity: Caution,
		Title: zhEn("短时间内付款次数或金额过多", "Many payments in a short time"),
		Text: zhEn("这个账户最近付款很频繁或金额很大，所以会请您再验证一次，以防有人盗用。",
			"This account has made many or large payments recently, so we will ask you to confirm it is you, in case someone else is using it."),
		Steps: steps([]string{"完成额外的验证。", "检查最近的付款记录，发现不认识的付款请联系客服。"}, []string{"Complete the extra check.", "Look at your recent payments and contact customer service about any you do not recognise."}),
	},
	{
		Code: "velocity_device", Severity: Caution,
		Title: zhEn("这台设备短时间内付款过多", "Many payments from this device in a short time"),
		Text:  zhEn("这台设备最近付款很频繁，所以会请您再验证一次。", "This device has made many payments recently, so we will ask you to confirm it is you."),
		Steps: steps([]string{"完成额外的验证。"}, []string{"Complete the extra check."}),
	},
	{
		Code: "many_devices_for_account", Severity: Caution,
		Title: zhEn("这个账户今天在很多设备上使用过", "This account was used on many devices today"),
		Text: zhEn("这个账户今天在好几台设备上出现过，可能有人知道了您的密码。",
			"This account showed up on several devices today. Someone else may know your password."),
		Steps: steps([]string{"完成额外的验证。", "修改密码，并在账户设置里退出不认识的设备。"}, []string{"Complete the extra check.", "Change your password and sign out devices you do not recognise in your account settings."}),
	},
	{
		Code: "device_farm", Severity: Caution,
		Title: zhEn("这台设备上使用过很多账户", "Many accounts were used on this device"),
		Text: zhEn("这台设备上登录或注册过很多不同的账户，需要再确认一次。",
			"Many different accounts have signed in or registered on this device, so we need to confirm it is you."),
		Steps: steps([]string{"完成额外的验证。"}, []string{"Complete the extra check."}),
	},
	{
		Code: "virtual_device_signup", Severity: Caution,
		Title: zhEn("正在用虚拟机或模拟器注册账户", "An account is being registered from a virtual machine or emulator"),
		Text: zhEn("批量注册假账户常用虚拟机或手机模拟器，所以需要再确认一次是您本人。",
			"Fake accounts are often created in bulk on virtual machines or phone emulators, so we need to confirm it is you."),
		Steps: steps([]string{"完成额外的验证。"}, []string{"Complete the extra check."}),
	},
	{
		Code: "enrolment_burst", Severity: Caution,
		Title: zhEn("这台设备所在的网络刚刚注册了很多设备", "Many devices signed up from this network just now"),
		Text: zhEn("最近一小时内，从这台设备所在的网络注册了大量设备，这常见于批量注册假账户，需要再确认一次是您本人。",
			"A large number of devices signed up from this device's network in the last hour, which is common when fake accounts are created in bulk, so we need to confirm it is you."),
		Steps: steps([]string{"完成额外的验证。"}, []string{"Complete the extra check."}),
	},
	{
		Code: "merchant_phishing", Severity: Danger,
		Title: zhEn("这个网站是已知的钓鱼网站，本次付款已停止", "This website is a known fake - the payment was stopped"),
		Text: zhEn("您正在付款的网站被举报为冒充正规商家的钓鱼网站，钱付出去很可能追不回来。",
			"The site you are paying on has been reported as a fake that imitates a real shop. Money paid there is very likely lost."),
		Steps: steps([]string{"关闭这个网页，不要输入任何密码或验证码。", "通过您自己输入的官方网址或官方应用购物。"}, []string{"Close this page and do not type any password or code.", "Shop through the official address you type yourself, or the official app."}),
	},
	{
		Code: "payee_phishing", Severity: Danger,
		Title: zhEn("收款方被举报为诈骗，本次付款已停止", "The payee has been reported for fraud - the payment was stopped"),
		Text: zhEn("这个收款方被举报参与诈骗。如果有人催您“马上转账”，那几乎一定是骗局。",
			"This payee has been reported for fraud. If someone is pressing you to 'transfer now', it is almost certainly a scam."),
		Steps: steps([]string{"不要付款。", "拨打 110 或当地反诈热线咨询。"}, []string{"Do not pay.", "Call the police or your local anti-fraud hotline for advice."}),
	},
	{
		// Not a rule: the reason risk.Evaluate gives when a rule fails.
		Code: "risk_policy_error", Severity: Caution,
		Title: zhEn("这笔付款没能检查完：需要再确认一次", "We could not finish checking this payment - please confirm it is you"),
		Text: zhEn("我们的安全检查这次没能完成，所以会请您再验证一次，确认是您本人在付款。这不是您的设备出了问题。",
			"Our safety check could not finish this time, so we will ask you to confirm once more that it is really you paying. This is not a problem with your device."),
		Steps: steps([]string{"完成额外的验证（例如输入短信验证码）。"}, []string{"Complete the extra check (for example enter the text-message code)."}),
	},
}
