package sim

// reportedDuration is a finished task's duration_sec. The docs show the
// field without saying where it counts from; by default the simulator
// counts from the task's creation (inserted_at), and with
// Options.DurationFromStart from its start (when not_started became
// in_progress), as another implementation may. finished_at - inserted_at
// is the same either way: clients that learn from it do not depend on the
// choice (bench measures the poller against the from-start server).
func (s *Server) reportedDuration(t *task) float64 {
	from := t.inserted
	if s.opts.DurationFromStart && t.startsAt.Before(t.updated) {
		from = t.startsAt
	}
	return t.updated.Sub(from).Seconds()
}
