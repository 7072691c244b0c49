package maassim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
)

// The JSON MAAS 3.x returns, field for field where gomaasclient's entity
// types read them. Names and types follow MAAS's handlers
// (DISPLAYED_MACHINE_FIELDS and friends); nulls are where MAAS has them.

const apiRoot = "/MAAS/api/2.0/"

// Script result names MAAS shows for commissioning and tests.
const (
	scriptPassed = "Passed"
	unknown      = "Unknown"
)

type jsonZone struct {
	ID          int    `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	ResourceURI string `json:"resource_uri"`
}

type jsonPool jsonZone

type jsonDomain struct {
	Authoritative       bool   `json:"authoritative"`
	TTL                 *int   `json:"ttl"`
	IsDefault           bool   `json:"is_default"`
	ResourceRecordCount int    `json:"resource_record_count"`
	ID                  int    `json:"id"`
	Name                string `json:"name"`
	ResourceURI         string `json:"resource_uri"`
}

type jsonVLAN struct {
	VID           int     `json:"vid"`
	MTU           int     `json:"mtu"`
	DHCPOn        bool    `json:"dhcp_on"`
	ExternalDHCP  *string `json:"external_dhcp"`
	RelayVLAN     *int    `json:"relay_vlan"`
	Space         string  `json:"space"`
	PrimaryRack   string  `json:"primary_rack"`
	SecondaryRack *string `json:"secondary_rack"`
	Fabric        string  `json:"fabric"`
	ID            int     `json:"id"`
	FabricID      int     `json:"fabric_id"`
	Name          string  `json:"name"`
	ResourceURI   string  `json:"resource_uri"`
}

type jsonSubnet struct {
	Name                      string   `json:"name"`
	VLAN                      jsonVLAN `json:"vlan"`
	CIDR                      string   `json:"cidr"`
	RDNSMode                  int      `json:"rdns_mode"`
	GatewayIP                 string   `json:"gateway_ip"`
	DNSServers                []string `json:"dns_servers"`
	AllowDNS                  bool     `json:"allow_dns"`
	AllowProxy                bool     `json:"allow_proxy"`
	ActiveDiscovery           bool     `json:"active_discovery"`
	Managed                   bool     `json:"managed"`
	DisabledBootArchitectures []string `json:"disabled_boot_architectures"`
	Space                     string   `json:"space"`
	ID                        int      `json:"id"`
	ResourceURI               string   `json:"resource_uri"`
}

type jsonLink struct {
	ID        int        `json:"id"`
	Mode      string     `json:"mode"`
	IPAddress string     `json:"ip_address,omitempty"`
	Subnet    jsonSubnet `json:"subnet"`
}

type jsonInterface struct {
	FirmwareVersion *string    `json:"firmware_version"`
	VLAN            jsonVLAN   `json:"vlan"`
	Parents         []string   `json:"parents"`
	EffectiveMTU    int        `json:"effective_mtu"`
	SystemID        string     `json:"system_id"`
	Tags            []string   `json:"tags"`
	Enabled         bool       `json:"enabled"`
	Product         *string    `json:"product"`
	Links           []jsonLink `json:"links"`
	Type            string     `json:"type"`
	Children        []string   `json:"children"`
	Vendor          *string    `json:"vendor"`
	MACAddress      string     `json:"mac_address"`
	Discovered      *string    `json:"discovered"`
	ID              int        `json:"id"`
	Params          string     `json:"params"`
	Name            string     `json:"name"`
	LinkConnected   bool       `json:"link_connected"`
	InterfaceSpeed  int        `json:"interface_speed"`
	LinkSpeed       int        `json:"link_speed"`
	NUMANode        int        `json:"numa_node"`
	SRIOVMaxVF      int        `json:"sriov_max_vf"`
	ResourceURI     string     `json:"resource_uri"`
}

type jsonFilesystem struct {
	FSType       string  `json:"fstype"`
	Label        string  `json:"label"`
	UUID         string  `json:"uuid"`
	MountPoint   string  `json:"mount_point"`
	MountOptions *string `json:"mount_options"`
}

type jsonPartition struct {
	UUID        string         `json:"uuid"`
	Size        int64          `json:"size"`
	Bootable    bool           `json:"bootable"`
	Tags        []string       `json:"tags"`
	SystemID    string         `json:"system_id"`
	DeviceID    int            `json:"device_id"`
	Type        string         `json:"type"`
	Filesystem  jsonFilesystem `json:"filesystem"`
	ID          int            `json:"id"`
	Path        string         `json:"path"`
	UsedFor     string         `json:"used_for"`
	ResourceURI string         `json:"resource_uri"`
}

type jsonBlockDevice struct {
	FirmwareVersion    string          `json:"firmware_version"`
	SystemID           string          `json:"system_id"`
	Tags               []string        `json:"tags"`
	IDPath             *string         `json:"id_path"`
	Size               int64           `json:"size"`
	BlockSize          int             `json:"block_size"`
	Type               string          `json:"type"`
	UUID               *string         `json:"uuid"`
	Filesystem         *jsonFilesystem `json:"filesystem"`
	Partitions         []jsonPartition `json:"partitions"`
	PartitionTableType *string         `json:"partition_table_type"`
	Model              string          `json:"model"`
	StoragePool        *string         `json:"storage_pool"`
	AvailableSize      int64           `json:"available_size"`
	ID                 int             `json:"id"`
	UsedSize           int64           `json:"used_size"`
	Path               string          `json:"path"`
	UsedFor            string          `json:"used_for"`
	Serial             string          `json:"serial"`
	Name               string          `json:"name"`
	NUMANode           int             `json:"numa_node"`
	ResourceURI        string          `json:"resource_uri"`
}

type jsonGateway struct {
	GatewayIP *string `json:"gateway_ip"`
	LinkID    *int    `json:"link_id"`
}

type jsonNUMANode struct {
	Index        int   `json:"index"`
	Cores        []int `json:"cores"`
	Memory       int64 `json:"memory"`
	HugepagesSet []any `json:"hugepages_set"`
}

type jsonMachine struct {
	SystemID               string            `json:"system_id"`
	Hostname               string            `json:"hostname"`
	Description            string            `json:"description"`
	HardwareUUID           string            `json:"hardware_uuid"`
	Domain                 jsonDomain        `json:"domain"`
	FQDN                   string            `json:"fqdn"`
	Owner                  *string           `json:"owner"`
	OwnerData              map[string]string `json:"owner_data"`
	Locked                 bool              `json:"locked"`
	CacheSets              []any             `json:"cache_sets"`
	BCaches                []any             `json:"bcaches"`
	BiosBootMethod         string            `json:"bios_boot_method"`
	BootInterface          jsonInterface     `json:"boot_interface"`
	Architecture           string            `json:"architecture"`
	MinHWEKernel           string            `json:"min_hwe_kernel"`
	HWEKernel              *string           `json:"hwe_kernel"`
	CPUCount               int               `json:"cpu_count"`
	CPUSpeed               int               `json:"cpu_speed"`
	Memory                 int64             `json:"memory"`
	SwapSize               *int64            `json:"swap_size"`
	Storage                float64           `json:"storage"`
	Status                 int               `json:"status"`
	OSystem                string            `json:"osystem"`
	DistroSeries           string            `json:"distro_series"`
	EphemeralDeploy        bool              `json:"ephemeral_deploy"`
	ErrorDescription       string            `json:"error_description"`
	Netboot                bool              `json:"netboot"`
	PowerType              string            `json:"power_type"`
	PowerState             string            `json:"power_state"`
	TagNames               []string          `json:"tag_names"`
	AddressTTL             *int              `json:"address_ttl"`
	IPAddresses            []string          `json:"ip_addresses"`
	InterfaceSet           []jsonInterface   `json:"interface_set"`
	Zone                   jsonZone          `json:"zone"`
	Pool                   jsonPool          `json:"pool"`
	DisableIPv4            bool              `json:"disable_ipv4"`
	ConstraintsByType      any               `json:"constraints_by_type,omitempty"`
	BootDisk               jsonBlockDevice   `json:"boot_disk"`
	BlockDeviceSet         []jsonBlockDevice `json:"blockdevice_set"`
	PhysicalBlockDeviceSet []jsonBlockDevice `json:"physicalblockdevice_set"`
	VirtualBlockDeviceSet  []any             `json:"virtualblockdevice_set"`
	VolumeGroups           []any             `json:"volume_groups"`
	RAIDs                  []any             `json:"raids"`
	StatusAction           string            `json:"status_action"`
	StatusMessage          string            `json:"status_message"`
	StatusName             string            `json:"status_name"`
	NodeType               int               `json:"node_type"`
	NodeTypeName           string            `json:"node_type_name"`
	SpecialFilesystems     []any             `json:"special_filesystems"`
	Parent                 *string           `json:"parent"`
	DefaultGateways        struct {
		IPv4 jsonGateway `json:"ipv4"`
		IPv6 jsonGateway `json:"ipv6"`
	} `json:"default_gateways"`
	CurrentCommissioningResultID int               `json:"current_commissioning_result_id"`
	CurrentTestingResultID       int               `json:"current_testing_result_id"`
	CurrentInstallationResultID  *int              `json:"current_installation_result_id"`
	CommissioningStatus          int               `json:"commissioning_status"`
	CommissioningStatusName      string            `json:"commissioning_status_name"`
	TestingStatus                int               `json:"testing_status"`
	TestingStatusName            string            `json:"testing_status_name"`
	CPUTestStatus                int               `json:"cpu_test_status"`
	CPUTestStatusName            string            `json:"cpu_test_status_name"`
	MemoryTestStatus             int               `json:"memory_test_status"`
	MemoryTestStatusName         string            `json:"memory_test_status_name"`
	NetworkTestStatus            int               `json:"network_test_status"`
	NetworkTestStatusName        string            `json:"network_test_status_name"`
	StorageTestStatus            int               `json:"storage_test_status"`
	StorageTestStatusName        string            `json:"storage_test_status_name"`
	OtherTestStatus              int               `json:"other_test_status"`
	OtherTestStatusName          string            `json:"other_test_status_name"`
	InterfaceTestStatus          int               `json:"interface_test_status"`
	InterfaceTestStatusName      string            `json:"interface_test_status_name"`
	HardwareInfo                 map[string]string `json:"hardware_info"`
	NUMANodeSet                  []jsonNUMANode    `json:"numanode_set"`
	WorkloadAnnotations          map[string]string `json:"workload_annotations"`
	LastSync                     *string           `json:"last_sync"`
	SyncInterval                 *int              `json:"sync_interval"`
	NextSync                     *string           `json:"next_sync"`
	EnableHWSync                 bool              `json:"enable_hw_sync"`
	EnableKernelCrashDump        bool              `json:"enable_kernel_crash_dump"`
	IsDPU                        bool              `json:"is_dpu"`
	ResourceURI                  string            `json:"resource_uri"`
}

func zoneJSON(z *zone) jsonZone {
	return jsonZone{ID: z.id, Name: z.name, Description: z.description, ResourceURI: apiRoot + "zones/" + z.name + "/"}
}

func poolJSON(p *pool) jsonPool {
	return jsonPool{ID: p.id, Name: p.name, Description: p.description, ResourceURI: fmt.Sprintf("%sresourcepool/%d/", apiRoot, p.id)}
}

func (s *Sim) domainJSON(d *domain) jsonDomain {
	count := 0
	for _, m := range s.machines {
		if m.domain == d {
			count++
		}
	}
	return domainJSONWithCount(d, count)
}

func domainJSONWithCount(d *domain, records int) jsonDomain {
	return jsonDomain{
		Authoritative: true, IsDefault: d.isDefault, ResourceRecordCount: records,
		ID: d.id, Name: d.name, ResourceURI: fmt.Sprintf("%sdomains/%d/", apiRoot, d.id),
	}
}

var untaggedVLAN = jsonVLAN{
	VID: 0, MTU: 1500, DHCPOn: true, Space: "undefined", PrimaryRack: "rack01",
	Fabric: "fabric-0", ID: 5001, FabricID: 0, Name: "untagged", ResourceURI: apiRoot + "vlans/5001/",
}

func (sn *subnet) json() jsonSubnet {
	return jsonSubnet{
		Name: sn.name, VLAN: untaggedVLAN, CIDR: sn.prefix.String(), RDNSMode: 2,
		GatewayIP: sn.gatewayString(), DNSServers: []string{}, AllowDNS: true, AllowProxy: true,
		Managed: sn.managed, DisabledBootArchitectures: []string{}, Space: "undefined",
		ID: sn.id, ResourceURI: fmt.Sprintf("%ssubnets/%d/", apiRoot, sn.id),
	}
}

func (m *machine) interfaceJSON() jsonInterface {
	link := jsonLink{ID: m.linkID, Mode: "auto", Subnet: m.subnet.json()}
	if m.ipsClaimed && len(m.assigned) > 0 {
		link.IPAddress = m.assigned[0].String()
	}
	return jsonInterface{
		VLAN: untaggedVLAN, Parents: []string{}, EffectiveMTU: 1500, SystemID: m.systemID,
		Tags: []string{}, Enabled: true, Links: []jsonLink{link}, Type: "physical",
		Children: []string{}, MACAddress: m.mac, ID: m.ifaceID, Name: "eth0", LinkConnected: true,
		InterfaceSpeed: 10000, LinkSpeed: 10000,
		ResourceURI: fmt.Sprintf("%snodes/%s/interfaces/%d/", apiRoot, m.systemID, m.ifaceID),
	}
}

func diskBytes(d DiskSpec) int64 { return int64(math.Round(d.SizeGB * 1e9)) }

func (m *machine) blockDevicesJSON() []jsonBlockDevice {
	out := make([]jsonBlockDevice, len(m.disks))
	for i, d := range m.disks {
		size := diskBytes(d)
		bd := jsonBlockDevice{
			SystemID: m.systemID, Tags: nonNil(d.Tags), Size: size, BlockSize: 512, Type: "physical",
			Partitions: []jsonPartition{}, Model: "SIMDISK", ID: m.diskIDs[i],
			Path: "/dev/disk/by-dname/" + d.Name, Serial: fmt.Sprintf("SIM%s%02d", m.systemID, i),
			Name: d.Name, AvailableSize: size, UsedFor: "Unused",
			ResourceURI: fmt.Sprintf("%snodes/%s/blockdevices/%d/", apiRoot, m.systemID, m.diskIDs[i]),
		}
		if i == 0 {
			// Commissioning leaves the boot disk with MAAS's flat layout:
			// one partition, ext4, mounted at /.
			gpt := "GPT"
			bd.PartitionTableType = &gpt
			partSize := max(size-8<<20, 0)
			bd.Partitions = []jsonPartition{{
				UUID: fmt.Sprintf("%s-part1", m.hwUUID), Size: partSize, Tags: []string{}, SystemID: m.systemID,
				DeviceID: m.diskIDs[i], Type: "partition", ID: m.partID,
				Filesystem: jsonFilesystem{FSType: "ext4", Label: "root", UUID: m.hwUUID, MountPoint: "/"},
				Path:       "/dev/disk/by-dname/" + d.Name + "-part1", UsedFor: "ext4 formatted filesystem mounted at /",
				ResourceURI: fmt.Sprintf("%snodes/%s/blockdevices/%d/partition/%d", apiRoot, m.systemID, m.diskIDs[i], m.partID),
			}}
			bd.AvailableSize = 0
			bd.UsedSize = size
			bd.UsedFor = "GPT partitioned with 1 partition"
		}
		out[i] = bd
	}
	return out
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (m *machine) storageMB() float64 {
	var total int64
	for _, d := range m.disks {
		total += diskBytes(d)
	}
	return float64(total) / 1e6
}

func (s *Sim) machineJSON(m *machine) jsonMachine {
	iface := m.interfaceJSON()
	disks := m.blockDevicesJSON()
	cores := make([]int, m.cpu)
	for i := range cores {
		cores[i] = i
	}
	annotations := maps.Clone(m.annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	j := jsonMachine{
		SystemID: m.systemID, Hostname: m.hostname, Description: m.description, HardwareUUID: m.hwUUID,
		Domain: domainJSONWithCount(m.domain, 0), FQDN: m.hostname + "." + m.domain.name,
		OwnerData: annotations, CacheSets: []any{}, BCaches: []any{}, BiosBootMethod: "uefi",
		BootInterface: iface, Architecture: m.arch, CPUCount: m.cpu, CPUSpeed: m.cpuSpeed,
		Memory: m.memory, SwapSize: m.swapSize, Storage: m.storageMB(), Status: int(m.status),
		OSystem: m.osystem, DistroSeries: m.distroSeries, Netboot: m.status != StatusDeployed,
		PowerType: m.powerType, PowerState: m.powerState, TagNames: nonNil(m.tags),
		IPAddresses: []string{}, InterfaceSet: []jsonInterface{iface},
		Zone: zoneJSON(m.zone), Pool: poolJSON(m.pool), BootDisk: disks[0], BlockDeviceSet: disks,
		PhysicalBlockDeviceSet: disks, VirtualBlockDeviceSet: []any{}, VolumeGroups: []any{}, RAIDs: []any{},
		StatusMessage: m.statusMessage, StatusName: m.status.String(), NodeTypeName: "Machine",
		SpecialFilesystems: []any{}, CurrentCommissioningResultID: m.dbID * 3, CurrentTestingResultID: m.dbID*3 + 1,
		CommissioningStatus: 2, CommissioningStatusName: scriptPassed, TestingStatus: 2, TestingStatusName: scriptPassed,
		CPUTestStatus: -1, CPUTestStatusName: unknown, MemoryTestStatus: -1, MemoryTestStatusName: unknown,
		NetworkTestStatus: -1, NetworkTestStatusName: unknown, StorageTestStatus: 2, StorageTestStatusName: scriptPassed,
		OtherTestStatus: -1, OtherTestStatusName: unknown, InterfaceTestStatus: -1, InterfaceTestStatusName: unknown,
		HardwareInfo: map[string]string{
			"system_vendor": "maas-sim", "system_product": "Simulated server", "system_version": "1",
			"system_serial": m.systemID, "cpu_model": "Simulated CPU", "mainboard_vendor": "maas-sim",
			"mainboard_product": unknown, "mainboard_firmware_version": "1.0", "mainboard_firmware_date": "01/01/2024",
		},
		NUMANodeSet:         []jsonNUMANode{{Index: 0, Cores: cores, Memory: m.memory, HugepagesSet: []any{}}},
		WorkloadAnnotations: annotations,
		ResourceURI:         apiRoot + "machines/" + m.systemID + "/",
	}
	if m.owner != nil {
		j.Owner = &m.owner.name
	}
	if m.hweKernel != "" {
		k := m.hweKernel
		j.HWEKernel = &k
	}
	if m.ipsClaimed {
		j.IPAddresses = addrStrings(m.assigned)
	}
	gw := m.subnet.gatewayString()
	j.DefaultGateways.IPv4.GatewayIP = &gw
	return j
}

// render refreshes m's cached JSON. It runs on every change (under the
// write lock) so that listing machines, the hot path, only copies bytes.
func (s *Sim) render(m *machine) {
	b, err := jsonMarshal(s.machineJSON(m))
	if err != nil {
		panic(fmt.Sprintf("maassim: rendering machine %s: %v", m.systemID, err))
	}
	m.json = b
}

// jsonMarshal is json.Marshal without HTML escaping, as Python's json.dumps.
func jsonMarshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}
