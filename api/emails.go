package api

import (
	"time"

	"github.com/gin-gonic/gin"

	"github.com/serviceflow/serviceflow/store"
)

type emailResponse struct {
	ID                string     `json:"id"`
	To                string     `json:"to"`
	ToName            string     `json:"to_name"`
	Template          string     `json:"template"`
	Locale            string     `json:"locale"`
	Subject           string     `json:"subject"`
	Status            string     `json:"status"`
	ProviderMessageID *string    `json:"provider_message_id"`
	Error             *string    `json:"error"`
	Process           *string    `json:"process"`
	ProcessID         *string    `json:"process_id"`
	CreatedAt         time.Time  `json:"created_at"`
	SentAt            *time.Time `json:"sent_at"`
}

func emailDTO(e store.Email) emailResponse {
	status := e.Status
	if status == store.EmailSending { // an attempt in flight: still queued to the outside
		status = store.EmailQueued
	}
	return emailResponse{
		ID: e.ID, To: e.To, ToName: e.ToName, Template: e.Template, Locale: e.Locale, Subject: e.Subject,
		Status: status, ProviderMessageID: strOrNil(e.ProviderMessageID), Error: strOrNil(e.Error),
		Process: strOrNil(e.Process), ProcessID: strOrNil(e.ProcessID), CreatedAt: e.CreatedAt, SentAt: e.SentAt,
	}
}

func (s *Server) listEmails(c *gin.Context) {
	if !s.managersOnly(c, s.access.MaySeeEmails, "e-mails") {
		return
	}
	f := store.EmailFilter{To: c.Query("to"), ProcessID: c.Query("process_id")}
	servePage(s, c, &f, store.CursorEmails, &f.Limit, &f.Cursor, nil, s.st.ListEmails, emailDTO)
}
