package api

import (
	"context"

	"github.com/serviceflow/serviceflow/store"
)

// What the web app's survey pages read besides the functions of the JSON routes.

// SurveyProgrammeFor returns programme id for u, without its Schedule's next run (the
// cycle page names its programme): a 404 *Problem when it is unknown or u sees no
// survey.
func (s *Server) SurveyProgrammeFor(ctx context.Context, u store.User, id string) (store.SurveyProgramme, error) {
	return s.programmeFor(ctx, u, id)
}
