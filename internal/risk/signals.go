package risk

// Signals is what the service knows about one transaction when it decides.
// It is the input of the risk policy (the CEL variable "signals") and is
// answered to the relying party as "signals". Field names are the JSON
// names the policy uses.
type Signals struct {
	Event    string  `json:"event"`   // login, payment, register
	Channel  string  `json:"channel"` // web, app, third-party, or empty
	Amount   float64 `json:"amount"`  // in units of Currency; 0 when not a payment
	Currency string  `json:"currency"`

	Certificate CertificateSignals `json:"certificate"`
	Device      DeviceSignals      `json:"device"`
	Account     AccountSignals     `json:"account"`
	Velocity    VelocitySignals    `json:"velocity"`
	Intel       IntelSignals       `json:"intel"`
}

// CertificateSignals says what the health certificate proved.
type CertificateSignals struct {
	Present bool `json:"present"`
	Valid   bool `json:"valid"`   // signed by this service and not expired
	Expired bool `json:"expired"` // signed by this service, expired
	// Bound is true when a proof of possession by the certificate's device
	// key over this transaction verified: the certificate was not lifted
	// from another device.
	Bound bool `json:"bound"`
}

// DeviceSignals describe the device, from a valid certificate.
type DeviceSignals struct {
	Known    bool     `json:"known"` // a device id is known (from the certificate)
	Tier     string   `json:"tier"`  // AR4SI tier; "none" without a valid certificate
	Findings []string `json:"findings"`
	// Accounts is how many accounts of this relying party were seen with
	// the device, this one included (device farms).
	Accounts int `json:"accounts"`
	// AccountsDay is how many distinct accounts used the device in the
	// last 24 h.
	AccountsDay int `json:"accounts_day"`
	// NetworkEnrolmentsHour is how many devices enrolled in the last hour
	// from the network (/24, /48) this device enrolled from: a burst is a
	// device farm registering fake identities.
	NetworkEnrolmentsHour int `json:"network_enrolments_1h"`
	// Virtual is true when the device's last report said it is a virtual
	// machine or an emulator (device farms run on them).
	Virtual bool `json:"virtual"`
}

// AccountSignals describe the account's history with this device.
type AccountSignals struct {
	// NewDevice is true when the account was never seen with this device
	// (always true without a device).
	NewDevice bool `json:"new_device"`
	// DevicesDay is how many distinct devices the account used in the last
	// 24 h, this one included.
	DevicesDay int `json:"devices_day"`
}

// VelocitySignals count payments before this one in sliding windows.
type VelocitySignals struct {
	AccountPayments1h  int     `json:"account_payments_1h"`
	AccountSum1h       float64 `json:"account_sum_1h"`
	AccountPayments24h int     `json:"account_payments_24h"`
	AccountSum24h      float64 `json:"account_sum_24h"`
	DevicePayments1h   int     `json:"device_payments_1h"`
	DeviceSum1h        float64 `json:"device_sum_1h"`
	DevicePayments24h  int     `json:"device_payments_24h"`
	DeviceSum24h       float64 `json:"device_sum_24h"`
}

// IntelSignals come from threat intelligence. The phishing lists are a hook
// for the intel store; until it is wired they are always false.
type IntelSignals struct {
	MerchantPhishing bool `json:"merchant_phishing"`
	PayeePhishing    bool `json:"payee_phishing"`
}
