package api

import (
	"testing"

	"github.com/serviceflow/serviceflow/domain"
	"github.com/serviceflow/serviceflow/store"
)

// The case rules of Access, without a database: viewers see every case, a party sees
// their own (a complaint's customer owner only while a sales rep), a contract's route
// departments see it, and nobody else does.
func TestAccessSeesCase(t *testing.T) {
	var a Access
	user := func(name string, roles ...domain.Role) store.User { return store.User{Username: name, Roles: roles} }
	cmp := ComplaintParties(store.Complaint{CustomerOwner: "alice"})
	ctr := ContractParties(domain.ContractState{SubmittedBy: "aaron", ContractVersion: domain.ContractVersion{Class: domain.ClassSpecial}})
	for _, tc := range []struct {
		u       store.User
		proc    string
		parties Parties
		want    bool
	}{
		{user("carol", domain.RoleCustomerService), domain.ProcessComplaint, cmp, true},
		{user("alice", domain.RoleSalesRep), domain.ProcessComplaint, cmp, true},
		{user("aaron", domain.RoleSalesRep), domain.ProcessComplaint, cmp, false},
		{user("alice", domain.RoleFinance), domain.ProcessComplaint, cmp, false}, // owner, no longer a rep
		{user("admin", domain.RoleAdmin), domain.ProcessComplaint, cmp, true},
		{user("aaron", domain.RoleSalesRep), domain.ProcessContract, ctr, true},
		{user("frank", domain.RoleQuality), domain.ProcessContract, ctr, true}, // on the special route
		{user("leo", domain.RoleLogistics), domain.ProcessContract, ctr, false},
		{user("bob", domain.RoleSalesManager), domain.ProcessContract, ctr, true},
		{user("carol", domain.RoleCustomerService), domain.ProcessContract, ctr, false},
		{user("carol", domain.RoleCustomerService), "no_such_process", Parties{}, false},
	} {
		if got := a.SeesCase(tc.u, tc.proc, tc.parties); got != tc.want {
			t.Errorf("%s %v sees a %s: %v, want %v", tc.u.Username, tc.u.Roles, tc.proc, got, tc.want)
		}
	}
}
