package wine

import (
	"bytes"
	"debug/pe"
	"encoding/binary"
	"testing"
)

// bcryptPrimitivesShim returns a minimal 64-bit DLL named
// bcryptprimitives.dll whose one export, ProcessPrng, forwards to
// advapi32.SystemFunction036 (RtlGenRandom).
//
// Go 1.24 and later load bcryptprimitives.dll!ProcessPrng at start-up
// and die with "bcryptprimitives.dll not found" without it; Wine added
// the DLL in 8.13 (stable: 9.0), and Debian 12 ships Wine 8.0.
// ProcessPrng(PBYTE, SIZE_T) returns TRUE, and RtlGenRandom(PVOID, ULONG)
// TRUE on success: close enough for the runtime, which asks for a few
// dozen bytes at a time. This is test scaffolding for Wine only; nothing
// of it reaches the product.
func bcryptPrimitivesShim() []byte {
	const (
		fileAlign = 0x200
		sectRVA   = 0x1000
		sectAlign = 0x1000
		imageBase = 0x180000000
	)
	name := []byte("bcryptprimitives.dll\x00")
	export := []byte("ProcessPrng\x00")
	forward := []byte("advapi32.SystemFunction036\x00")

	// .edata: the export directory, its three one-entry tables, strings.
	const dirSize = 40
	eat := uint32(sectRVA + dirSize)
	names := eat + 4
	ordinals := names + 4
	nameRVA := ordinals + 2
	exportRVA := nameRVA + uint32(len(name))
	forwardRVA := exportRVA + uint32(len(export))
	end := forwardRVA + uint32(len(forward))

	le := binary.LittleEndian
	var sect []byte
	sect = le.AppendUint32(sect, 0)          // Characteristics
	sect = le.AppendUint32(sect, 0)          // TimeDateStamp
	sect = le.AppendUint16(sect, 0)          // MajorVersion
	sect = le.AppendUint16(sect, 0)          // MinorVersion
	sect = le.AppendUint32(sect, nameRVA)    // Name
	sect = le.AppendUint32(sect, 1)          // Base
	sect = le.AppendUint32(sect, 1)          // NumberOfFunctions
	sect = le.AppendUint32(sect, 1)          // NumberOfNames
	sect = le.AppendUint32(sect, eat)        // AddressOfFunctions
	sect = le.AppendUint32(sect, names)      // AddressOfNames
	sect = le.AppendUint32(sect, ordinals)   // AddressOfNameOrdinals
	sect = le.AppendUint32(sect, forwardRVA) // inside the export directory: a forwarder
	sect = le.AppendUint32(sect, exportRVA)
	sect = le.AppendUint16(sect, 0)
	sect = append(sect, name...)
	sect = append(sect, export...)
	sect = append(sect, forward...)
	vsize := uint32(len(sect))
	sect = append(sect, make([]byte, fileAlign-len(sect))...)

	var h []byte
	h = append(h, 'M', 'Z')
	h = append(h, make([]byte, 58)...)
	h = le.AppendUint32(h, 0x40) // e_lfanew
	h = append(h, 'P', 'E', 0, 0)
	// COFF header: AMD64, one section, a 240-byte optional header,
	// EXECUTABLE_IMAGE | LARGE_ADDRESS_AWARE | DLL.
	h = le.AppendUint16(h, pe.IMAGE_FILE_MACHINE_AMD64)
	h = le.AppendUint16(h, 1)
	h = le.AppendUint32(h, 0)
	h = le.AppendUint32(h, 0)
	h = le.AppendUint32(h, 0)
	h = le.AppendUint16(h, 240)
	h = le.AppendUint16(h, 0x2022)
	// PE32+ optional header, no entry point, no relocations.
	h = le.AppendUint16(h, 0x20B)
	h = append(h, 14, 0)                      // linker version
	h = le.AppendUint32(h, 0)                 // SizeOfCode
	h = le.AppendUint32(h, fileAlign)         // SizeOfInitializedData
	h = le.AppendUint32(h, 0)                 // SizeOfUninitializedData
	h = le.AppendUint32(h, 0)                 // AddressOfEntryPoint
	h = le.AppendUint32(h, sectRVA)           // BaseOfCode
	h = le.AppendUint64(h, imageBase)         // ImageBase
	h = le.AppendUint32(h, sectAlign)         // SectionAlignment
	h = le.AppendUint32(h, fileAlign)         // FileAlignment
	h = le.AppendUint16(h, 6)                 // OS version
	h = le.AppendUint16(h, 0)                 //
	h = le.AppendUint16(h, 0)                 // image version
	h = le.AppendUint16(h, 0)                 //
	h = le.AppendUint16(h, 6)                 // subsystem version
	h = le.AppendUint16(h, 0)                 //
	h = le.AppendUint32(h, 0)                 // Win32VersionValue
	h = le.AppendUint32(h, sectRVA+sectAlign) // SizeOfImage
	h = le.AppendUint32(h, fileAlign)         // SizeOfHeaders
	h = le.AppendUint32(h, 0)                 // CheckSum
	h = le.AppendUint16(h, 3)                 // Subsystem: console
	h = le.AppendUint16(h, 0)                 // DllCharacteristics
	h = le.AppendUint64(h, 0x100000)          // stack reserve
	h = le.AppendUint64(h, 0x1000)            // stack commit
	h = le.AppendUint64(h, 0x100000)          // heap reserve
	h = le.AppendUint64(h, 0x1000)            // heap commit
	h = le.AppendUint32(h, 0)                 // LoaderFlags
	h = le.AppendUint32(h, 16)                // NumberOfRvaAndSizes
	h = le.AppendUint32(h, sectRVA)           // export directory
	h = le.AppendUint32(h, end-sectRVA)       //
	h = append(h, make([]byte, 15*8)...)      // the other 15 directories
	h = append(h, '.', 'e', 'd', 'a', 't', 'a', 0, 0)
	h = le.AppendUint32(h, vsize)      // VirtualSize
	h = le.AppendUint32(h, sectRVA)    // VirtualAddress
	h = le.AppendUint32(h, fileAlign)  // SizeOfRawData
	h = le.AppendUint32(h, fileAlign)  // PointerToRawData
	h = append(h, make([]byte, 12)...) // relocations, line numbers
	h = le.AppendUint32(h, 0x40000040) // INITIALIZED_DATA | MEM_READ
	h = append(h, make([]byte, fileAlign-len(h))...)
	return append(h, sect...)
}

// TestShim checks the shim with debug/pe: one section, and the export
// directory where the optional header says it is.
func TestShim(t *testing.T) {
	dll := bcryptPrimitivesShim()
	f, err := pe.NewFile(bytes.NewReader(dll))
	if err != nil {
		t.Fatal(err)
	}
	oh, ok := f.OptionalHeader.(*pe.OptionalHeader64)
	if !ok || f.Characteristics&pe.IMAGE_FILE_DLL == 0 || len(f.Sections) != 1 {
		t.Fatalf("not a 64-bit DLL with one section: %+v", f.FileHeader)
	}
	dir := oh.DataDirectory[pe.IMAGE_DIRECTORY_ENTRY_EXPORT]
	data, err := f.Sections[0].Data()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"bcryptprimitives.dll\x00", "ProcessPrng\x00", "advapi32.SystemFunction036\x00"} {
		i := bytes.Index(data, []byte(s))
		if i < 0 || uint32(i)+uint32(len(s)) > dir.Size {
			t.Errorf("%q not inside the export directory (size %d)", s, dir.Size)
		}
	}
}
