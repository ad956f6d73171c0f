// Package domain holds the pure business rules and the types shared by workflows,
// activities and the API. Nothing here performs I/O.
package domain

// Role is both a user's role and a task candidate group.
type Role string

const (
	RoleSalesRep        Role = "sales_rep"
	RoleSalesManager    Role = "sales_manager"
	RoleCustomerService Role = "customer_service"
	RoleServiceManager  Role = "service_manager"
	RoleFinance         Role = "finance"
	RoleQuality         Role = "quality"
	RoleProduction      Role = "production"
	RolePurchasing      Role = "purchasing"
	RoleOpsHead         Role = "ops_head"
	RoleDeputyGM        Role = "deputy_gm"
	RoleGeneralManager  Role = "general_manager"
	RoleLogistics       Role = "logistics"
	RoleAdmin           Role = "admin"
)

// AllRoles lists every role in a stable order.
var AllRoles = []Role{
	RoleSalesRep, RoleSalesManager, RoleCustomerService, RoleServiceManager, RoleFinance,
	RoleQuality, RoleProduction, RolePurchasing, RoleOpsHead, RoleDeputyGM,
	RoleGeneralManager, RoleLogistics, RoleAdmin,
}

// ValidRole reports whether r is a known role.
func ValidRole(r string) bool {
	for _, x := range AllRoles {
		if string(x) == r {
			return true
		}
	}
	return false
}

// ComplaintViewerRoles may see every complaint. A sales_rep sees only complaints of the
// customers they own.
var ComplaintViewerRoles = []Role{RoleCustomerService, RoleServiceManager, RoleGeneralManager, RoleAdmin}

// ManagerRoles may list escalations and e-mails.
var ManagerRoles = []Role{RoleSalesManager, RoleServiceManager, RoleOpsHead, RoleDeputyGM, RoleGeneralManager, RoleAdmin}

// HasAny reports whether roles contains any of want.
func HasAny(roles []Role, want ...Role) bool {
	for _, r := range roles {
		for _, w := range want {
			if r == w {
				return true
			}
		}
	}
	return false
}
