package schema_test

import "github.com/frameflow/frameflow/schema"

// testTypes is a small stand-in for the engine's registry, written the way
// the registry describes step types: plain JSON Schema for `with`.
func testTypes() []schema.StepTypeInfo {
	str := func(desc string) map[string]any { return map[string]any{"type": "string", "description": desc} }
	boolean := map[string]any{"type": "boolean", "description": "Wait for the task to finish."}
	count := func(desc string) map[string]any {
		return map[string]any{"type": "integer", "minimum": 0, "description": desc}
	}
	return []schema.StepTypeInfo{
		{Name: "accounts.list", Description: "Lists accounts matching a filter.", WithSchema: map[string]any{
			"type": "object",
			"properties": map[string]any{
				"name":   str("Exact account name."),
				"filter": str("Predicate over an account."),
			},
		}},
		{Name: "sandbox.clone", Description: "Overwrites the target account's sandbox with the source's.", WithSchema: map[string]any{
			"type":     "object",
			"required": []any{"target_account_id"},
			"properties": map[string]any{
				"target_account_id": str("Account whose sandbox is overwritten."),
				"source_account_id": str("Account whose sandbox is copied."),
				"wait":              boolean,
			},
		}},
		{Name: "sandbox.publish", Description: "Publishes an account's sandbox.", WithSchema: map[string]any{
			"type":     "object",
			"required": []any{"account_id"},
			"properties": map[string]any{
				"account_id": str("Account to publish."),
				"wait":       boolean,
			},
		}},
		{Name: "elasticity.set", Description: "Sets a pool's elasticity.", WithSchema: map[string]any{
			"type": "object",
			"properties": map[string]any{
				"account_id": str("Account of the pool."),
				"pool_id":    str("The pool."),
				"pool_kind":  map[string]any{"enum": []any{"production", "test"}, "description": "Kind of pool."},
				// Spelled out the way the engine's registry writes typed inputs.
				"min_servers": map[string]any{"description": "Fewest servers.", "anyOf": []any{
					map[string]any{"type": "integer", "minimum": 0},
					map[string]any{"type": "string", "pattern": `^\s*\$\{\{([^}]|\}[^}])*\}\}\s*$`},
				}},
				"buffer_servers": count("Idle servers kept ready."),
				"max_servers":    count("Most servers."),
				"wait":           boolean,
			},
			"anyOf": []any{
				map[string]any{"required": []any{"pool_id"}},
				map[string]any{"required": []any{"account_id", "pool_kind"}},
			},
		}},
		{Name: "task.wait", Description: "Waits for a task.", WithSchema: map[string]any{
			"type":       "object",
			"required":   []any{"task_id"},
			"properties": map[string]any{"task_id": str("The task.")},
		}},
		{Name: "sandbox.start", Description: "Starts a sandbox.", WithSchema: map[string]any{
			"type":     "object",
			"required": []any{"account_id"},
			"properties": map[string]any{
				"account_id": str("Account of the sandbox."),
				"pool_id":    str("The sandbox pool."),
				"sandbox_id": str("The sandbox."),
			},
			// Alternatives that repeat a required input, as the registry may write them.
			"anyOf": []any{
				map[string]any{"required": []any{"account_id", "pool_id"}},
				map[string]any{"required": []any{"account_id", "sandbox_id"}},
			},
		}},
	}
}
