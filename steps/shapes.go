package steps

import "github.com/frameflow/frameflow/engine"

// Output shapes, from the documented responses (seeds/001, Admin API v1).
// Objects are strict where the docs list every field, so a typo such as
// account.nme is an error when the workflow is loaded.

func accountShape() *engine.Shape {
	s := engine.ObjectShape(map[string]*engine.Shape{
		"id":           doc(engine.StringShape(), "Frame account ID"),
		"name":         doc(engine.StringShape(), "account name"),
		"active":       doc(engine.BoolShape(), "whether the account is active"),
		"description":  doc(engine.StringShape(), "description (may be null)"),
		"last_publish": doc(engine.StringShape(), "time of the last publish, null when never published"),
		"kind":         doc(engine.StringShape(), "account kind, e.g. frame"),
		"url_slug":     doc(engine.StringShape(), "URL slug"),
		"inserted_at":  doc(engine.StringShape(), "creation time"),
		"website":      doc(engine.StringShape(), "website (may be null)"),
		"notes":        doc(engine.StringShape(), "notes (may be null)"),
	})
	s.Doc = "a Frame account"
	return s
}

func poolShape() *engine.Shape {
	s := engine.ObjectShape(map[string]*engine.Shape{
		"id":            doc(engine.StringShape(), "pool ID"),
		"external_id":   doc(engine.StringShape(), "external pool ID"),
		"kind":          doc(engine.StringShape(), "sandbox, production, ..."),
		"name":          doc(engine.StringShape(), "pool (instance type) name"),
		"disk_size":     doc(engine.IntShape(), "disk size in GB"),
		"image_family":  doc(engine.StringShape(), "image family"),
		"instance_type": doc(engine.StringShape(), "instance type"),
	})
	s.Doc = "a pool of an account"
	return s
}

// taskShape is a Frame task ("pending_request"). The fields are those of
// frame.Task; publish_id is set only when a publish was found by
// reconciliation (no task id is known then).
func taskShape() *engine.Shape {
	s := engine.ObjectShape(map[string]*engine.Shape{
		"id":                   doc(engine.StringShape(), "task ID"),
		"account_id":           doc(engine.StringShape(), "account the task runs in"),
		"customer_id":          doc(engine.StringShape(), "customer ID"),
		"organization_id":      doc(engine.StringShape(), "organization ID"),
		"pool_id":              doc(engine.StringShape(), "pool ID (may be null)"),
		"kind":                 doc(engine.StringShape(), "task kind, e.g. clone_pool, publish_sandbox_to_production"),
		"display_name":         doc(engine.StringShape(), "human-readable task name"),
		"stage":                doc(engine.StringShape(), "not_started, in_progress, done or failed"),
		"duration_sec":         doc(engine.NumberShape(), "duration in seconds once finished"),
		"inserted_at":          doc(engine.StringShape(), "creation time"),
		"updated_at":           doc(engine.StringShape(), "last update time"),
		"finished_at":          doc(engine.StringShape(), "finish time (null while running)"),
		"progress_info":        doc(engine.AnyShape(), "progress details"),
		"result_info":          doc(engine.AnyShape(), "result details (the reason when failed)"),
		"external_resource_id": doc(engine.AnyShape(), "external resource ID"),
		"publish_id":           doc(engine.StringShape(), "publish task id, when the publish was found by reconciliation"),
		"audit_trail_id":       doc(engine.StringShape(), "audit-trail entry of a clone found by reconciliation (no task id is known then)"),
	})
	s.Doc = "a Frame task"
	return s
}

func elasticityShape() *engine.Shape {
	s := engine.ObjectShape(map[string]*engine.Shape{
		"min_servers":    doc(engine.IntShape(), "minimum servers"),
		"buffer_servers": doc(engine.IntShape(), "buffer servers"),
		"max_servers":    doc(engine.IntShape(), "maximum servers"),
	})
	s.Doc = "min/buffer/max servers of a pool"
	return s
}

func capacityShape() *engine.Shape {
	s := engine.ObjectShape(map[string]*engine.Shape{
		"max_users":                            doc(engine.IntShape(), "most persistent desktops"),
		"number_of_backups_to_save":            doc(engine.IntShape(), "backups kept per desktop"),
		"keep_instances_running_for_new_users": doc(engine.BoolShape(), "keep unassigned desktops running"),
	})
	s.Doc = "persistent desktop capacity settings"
	return s
}

func doc(s *engine.Shape, d string) *engine.Shape { s.Doc = d; return s }
