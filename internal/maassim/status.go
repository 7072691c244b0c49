package maassim

// Status is a MAAS node status code (NODE_STATUS in MAAS); the numbers are the
// ones MAAS puts in a machine's "status" field.
type Status int

// The MAAS node statuses, in MAAS's numbering.
const (
	StatusNew Status = iota
	StatusCommissioning
	StatusFailedCommissioning
	StatusMissing
	StatusReady
	StatusReserved
	StatusDeployed
	StatusRetired
	StatusBroken
	StatusDeploying
	StatusAllocated
	StatusFailedDeployment
	StatusReleasing
	StatusFailedReleasing
	StatusDiskErasing
	StatusFailedDiskErasing
	StatusRescueMode
	StatusEnteringRescueMode
	StatusFailedEnteringRescueMode
	StatusExitingRescueMode
	StatusFailedExitingRescueMode
	StatusTesting
	StatusFailedTesting
)

// statusNames holds, per status, MAAS's display name (status_name) and the
// one-word label accepted by the ?status= filter.
var statusNames = [...]struct{ name, label string }{
	StatusNew:                      {"New", "new"},
	StatusCommissioning:            {"Commissioning", "commissioning"},
	StatusFailedCommissioning:      {"Failed commissioning", "failed_commissioning"},
	StatusMissing:                  {"Missing", "missing"},
	StatusReady:                    {"Ready", "ready"},
	StatusReserved:                 {"Reserved", "reserved"},
	StatusDeployed:                 {"Deployed", "deployed"},
	StatusRetired:                  {"Retired", "retired"},
	StatusBroken:                   {"Broken", "broken"},
	StatusDeploying:                {"Deploying", "deploying"},
	StatusAllocated:                {"Allocated", "allocated"},
	StatusFailedDeployment:         {"Failed deployment", "failed_deployment"},
	StatusReleasing:                {"Releasing", "releasing"},
	StatusFailedReleasing:          {"Releasing failed", "failed_releasing"},
	StatusDiskErasing:              {"Disk erasing", "disk_erasing"},
	StatusFailedDiskErasing:        {"Failed disk erasing", "failed_disk_erasing"},
	StatusRescueMode:               {"Rescue mode", "rescue_mode"},
	StatusEnteringRescueMode:       {"Entering rescue mode", "entering_rescue_mode"},
	StatusFailedEnteringRescueMode: {"Failed to enter rescue mode", "failed_entering_rescue_mode"},
	StatusExitingRescueMode:        {"Exiting rescue mode", "exiting_rescue_mode"},
	StatusFailedExitingRescueMode:  {"Failed to exit rescue mode", "failed_exiting_rescue_mode"},
	StatusTesting:                  {"Testing", "testing"},
	StatusFailedTesting:            {"Failed testing", "failed_testing"},
}

// String returns MAAS's display name for the status (the "status_name" field).
func (s Status) String() string {
	if s < 0 || int(s) >= len(statusNames) {
		return unknown
	}
	return statusNames[s].name
}

// Label returns the one-word label MAAS accepts in the ?status= filter.
func (s Status) Label() string {
	if s < 0 || int(s) >= len(statusNames) {
		return ""
	}
	return statusNames[s].label
}

// simpleStatuses maps MAAS's simplified status labels (?simple_status=) to
// the statuses each stands for.
var simpleStatuses = map[string][]Status{
	"allocated":     {StatusAllocated},
	"broken":        {StatusBroken},
	"commissioning": {StatusCommissioning},
	"deployed":      {StatusDeployed},
	"deploying":     {StatusDeploying},
	"failed": {StatusFailedCommissioning, StatusFailedDeployment, StatusFailedDiskErasing,
		StatusFailedEnteringRescueMode, StatusFailedExitingRescueMode, StatusFailedReleasing, StatusFailedTesting},
	"new":         {StatusNew},
	"ready":       {StatusReady},
	"releasing":   {StatusDiskErasing, StatusReleasing},
	"rescue_mode": {StatusEnteringRescueMode, StatusExitingRescueMode, StatusRescueMode},
	"testing":     {StatusTesting},
	"other":       {StatusMissing, StatusReserved, StatusRetired},
}

func statusByLabel(label string) (Status, bool) {
	for i, n := range statusNames {
		if n.label == label {
			return Status(i), true
		}
	}
	return 0, false
}

// releasable lists the statuses MAAS lets a machine be released from
// (RELEASABLE_STATUSES in MAAS).
func (s Status) releasable() bool {
	switch s {
	case StatusAllocated, StatusReserved, StatusBroken, StatusDeploying, StatusDeployed,
		StatusFailedDeployment, StatusFailedDiskErasing, StatusFailedReleasing:
		return true
	}
	return false
}
