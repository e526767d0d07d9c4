//go:build windows

package posture

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"syscall"
	"unsafe"

	"github.com/go-ole/go-ole"
	"github.com/yusufpapurcu/wmi"
	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// liveWindows is the winSystem of the running Windows: WMI through
// github.com/yusufpapurcu/wmi, the registry, Toolhelp process snapshots
// and the CryptoAPI certificate stores.
type liveWindows struct{}

var _ winSystem = liveWindows{}

// wmiClient leaves a property WMI returns as NULL, or does not return, as
// a nil field instead of failing the whole row.
var wmiClient = &wmi.Client{PtrNil: true, AllowMissingFields: true}

func (liveWindows) wmi(ctx context.Context, namespace, class, where string, dst any) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if where != "" {
		where = "WHERE " + where
	}
	q := wmi.CreateQuery(dst, where, class)
	if q == "" {
		return fmt.Errorf("wmi %s: bad row type %T", class, dst)
	}
	if err := wmiClient.Query(q, dst, nil, namespace); err != nil {
		return fmt.Errorf("wmi %s %s: %w", namespace, class, classifyWMIError(err))
	}
	return nil
}

// classifyWMIError turns a WMI failure into wmiFailure's short form,
// wrapping errWMINamespace, errWMIAccessDenied or errWMIClass when its
// HRESULT, or the SCODE of the COM exception behind it, says so. The
// library's own text cannot be shown: Windows has no message for the WBEM
// codes, so it reads "error 2147749889 (FormatMessage failed with: …)".
func classifyWMIError(err error) error {
	var oe *ole.OleError
	if !errors.As(err, &oe) {
		return err
	}
	var scode uint32
	if ei, ok := oe.SubError().(ole.EXCEPINFO); ok {
		scode = ei.SCODE()
	}
	return wmiFailure(uint32(oe.Code()), scode, oe.Description())
}

// maxRegValues bounds the values read from one registry key.
const maxRegValues = 512

func (liveWindows) registry(ctx context.Context, key string) (regValues, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	hive, path, _ := strings.Cut(key, `\`)
	var root registry.Key
	switch hive {
	case "HKLM":
		root = registry.LOCAL_MACHINE
	case "HKCU":
		root = registry.CURRENT_USER
	default:
		return nil, fmt.Errorf("registry key %s: unknown hive", key)
	}
	// The 64-bit view, even for a 32-bit agent on 64-bit Windows.
	k, err := registry.OpenKey(root, path, registry.QUERY_VALUE|registry.WOW64_64KEY)
	if errors.Is(err, registry.ErrNotExist) {
		return nil, fmt.Errorf("%s: %w", key, errRegistryNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	defer k.Close()
	names, err := k.ReadValueNames(maxRegValues)
	if err != nil && len(names) == 0 {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	values := regValues{}
	for _, name := range names {
		_, typ, err := k.GetValue(name, nil)
		if err != nil {
			continue
		}
		switch typ {
		case registry.DWORD, registry.QWORD:
			if v, _, err := k.GetIntegerValue(name); err == nil {
				values[name] = v
			}
		case registry.SZ, registry.EXPAND_SZ:
			if v, _, err := k.GetStringValue(name); err == nil {
				values[name] = v
			}
		case registry.MULTI_SZ:
			if v, _, err := k.GetStringsValue(name); err == nil {
				values[name] = v
			}
		}
	}
	return values, nil
}

// maxWinPIDs bounds the processes looked at in one run.
const maxWinPIDs = 1 << 16

func (liveWindows) processes(ctx context.Context) ([]winProcess, error) {
	snap, err := windows.CreateToolhelp32Snapshot(windows.TH32CS_SNAPPROCESS, 0)
	if err != nil {
		return nil, fmt.Errorf("process snapshot: %w", err)
	}
	defer windows.CloseHandle(snap)
	var pe windows.ProcessEntry32
	pe.Size = uint32(unsafe.Sizeof(pe))
	var procs []winProcess
	buf := make([]uint16, windows.MAX_LONG_PATH)
	for err = windows.Process32First(snap, &pe); err == nil && len(procs) < maxWinPIDs; err = windows.Process32Next(snap, &pe) {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		p := winProcess{PID: pe.ProcessID, ExeFile: append([]uint16(nil), pe.ExeFile[:]...)}
		if h, err := windows.OpenProcess(windows.PROCESS_QUERY_LIMITED_INFORMATION, false, pe.ProcessID); err == nil {
			n := uint32(len(buf))
			if windows.QueryFullProcessImageName(h, 0, &buf[0], &n) == nil {
				p.Image = windows.UTF16ToString(buf[:n])
			}
			windows.CloseHandle(h)
		}
		procs = append(procs, p)
	}
	if err != nil && !errors.Is(err, windows.ERROR_NO_MORE_FILES) {
		return nil, fmt.Errorf("walking process snapshot: %w", err)
	}
	return procs, nil
}

// maxStoreCerts bounds the certificates read from one store.
const maxStoreCerts = 4096

func (liveWindows) rootCertificates(ctx context.Context) (map[string][][]byte, error) {
	out := map[string][][]byte{}
	var errs []error
	for _, s := range []struct {
		name  string
		flags uint32
	}{
		{"LocalMachine", windows.CERT_SYSTEM_STORE_LOCAL_MACHINE},
		{"CurrentUser", windows.CERT_SYSTEM_STORE_CURRENT_USER},
	} {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		ders, err := storeCertificates(s.flags)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s ROOT store: %w", s.name, err))
			continue
		}
		out[s.name] = ders
	}
	if len(out) == 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// storeCertificates returns copies of the DER encodings in the ROOT
// system store at the given location (CERT_SYSTEM_STORE_*).
func storeCertificates(location uint32) ([][]byte, error) {
	name, err := windows.UTF16PtrFromString("ROOT")
	if err != nil {
		return nil, err
	}
	store, err := windows.CertOpenStore(windows.CERT_STORE_PROV_SYSTEM, 0, 0,
		location|windows.CERT_STORE_READONLY_FLAG|windows.CERT_STORE_OPEN_EXISTING_FLAG,
		uintptr(unsafe.Pointer(name)))
	// CertOpenStore takes the name as a uintptr, which does not keep it
	// alive: without this the collector may free it while crypt32 still
	// reads it (Wine showed it, opening the machine's ROOT store while
	// other collectors allocate: "File not found" one run in four).
	runtime.KeepAlive(name)
	if err != nil {
		return nil, err
	}
	defer windows.CertCloseStore(store, 0)
	var ders [][]byte
	var cert *windows.CertContext
	for len(ders) < maxStoreCerts {
		cert, err = windows.CertEnumCertificatesInStore(store, cert)
		if err != nil {
			if errors.Is(err, syscall.Errno(windows.CRYPT_E_NOT_FOUND)) {
				break
			}
			return nil, err
		}
		ders = append(ders, append([]byte(nil), unsafe.Slice(cert.EncodedCert, cert.Length)...))
	}
	if cert != nil && len(ders) == maxStoreCerts {
		windows.CertFreeCertificateContext(cert)
	}
	return ders, nil
}
