package sim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"sort"
	"strings"
)

// The strict simulator accepts each parameter only where the docs put it:
// where the curl example sends it, else where the parameter table says.
// This table is written by hand from the reference (seeds 001 and 002),
// endpoint by endpoint, and deliberately not from frame/catalog.json: the
// simulator is a second reading of the docs, so a misplaced parameter in
// the catalog is answered 400 here instead of being accepted by a server
// that reads our own mistakes back to us. TestPlacementTableMatchesCatalog
// lists every difference between the two readings with its reason.
//
// Syntax of params: space-separated LOC:NAME, LOC one of q (query string),
// f (form body; curl -F, url-encoded or multipart), j (JSON body key), h
// (request header); NAME[] is a list, NAME{} an object (sent in a query or
// form in bracket notation, name[]=v / name[k]=v; nested JSON in a body).
// Path parameters are not listed: the route carries them.

type docPlacement struct {
	method string
	path   string // {param} placeholders; names do not matter (shapeKey)
	params string
	wrap   string // JSON params nested under this body key
	api    string // "" for v1, "v1alpha"
}

var placementTable = []docPlacement{
	// ---- Account endpoints (001) ----
	{method: "GET", path: "/accounts", params: "q:name q:organization_id"},
	{method: "GET", path: "/accounts/{account_id}"},
	{method: "GET", path: "/accounts/{id}/availability_zones"},
	{method: "GET", path: "/accounts/{id}/deployment_groups"},
	{method: "GET", path: "/accounts/{id}/user_volumes_settings"},
	{method: "GET", path: "/accounts/{id}/domain_join_settings"},
	{method: "GET", path: "/accounts/{id}/general_settings"},
	{method: "GET", path: "/accounts/{id}/session_settings"},
	{method: "POST", path: "/accounts/{id}/update_enterprise_profiles", params: "j:user_profile{}"},
	{method: "POST", path: "/accounts/{id}/update_personal_drives", params: "j:enabled j:size"},
	{method: "POST", path: "/accounts/{id}/disable_enterprise_profiles", params: "j:do_backup j:delete_all_backups"},
	{method: "POST", path: "/accounts/{id}/disable_personal_drives", params: "j:do_backup j:delete_all_backups"},
	{method: "POST", path: "/accounts/{id}/update_domain_join_settings", params: "j:domain_name j:service_account_name j:service_account_password " +
		"j:target_ou j:dns_servers j:logout_local_user j:domain_controller_ip j:promote_user_to_local_admin j:machine_name_prefix " +
		"j:sso_passthrough_enabled j:delete_terminated_hostnames j:ad_type j:enroll_intune"},
	{method: "POST", path: "/accounts/{id}/update_general_settings", params: "j:is_terminal_banner_enabled j:terminal_banner_settings{} " +
		"j:is_login_banner_enabled j:login_banner_settings{} j:is_light_publish_enabled j:light_publish_settings{} j:host_name_prefix j:is_test_publish_enabled"},
	// curl: --data-raw '{"session_settings": {...}}'
	{method: "POST", path: "/accounts/{id}/update_session_settings", wrap: "session_settings", params: "j:is_webrtc_enabled j:advanced_server_arguments " +
		"j:advanced_terminal_arguments j:clipboard_integration{} j:idle_timeout_minutes j:is_app_switching_enabled j:is_camera_enabled " +
		"j:is_cpu_display4k_enabled j:is_download_enabled j:is_grayscale_enabled j:is_microphone_enabled j:is_print_enabled " +
		"j:is_settings_dialog_enabled j:is_upload_enabled j:is_usb_redirection_enabled j:max_audio_bit_rate_kbps j:max_bandwidth_kbps " +
		"j:max_frame_rate_fps j:max_session_duration_minutes j:max_video_bit_rate_mbps j:max_video_quantization j:qos_rate_change " +
		"j:reservation_timeout_seconds j:scale_video j:session_preparation_timeout_minutes j:terminal_build j:user_inactivity_timeout_minutes " +
		"j:video_buffer_length_ms j:yuv444"},
	{method: "POST", path: "/accounts/{account_id}/publish"},
	{method: "GET", path: "/accounts/{account_id}/publish/tasks"},
	{method: "GET", path: "/accounts/{account_id}/publish/{request_id}"},
	{method: "DELETE", path: "/accounts/{account_id}/publish/{task_id}"},
	{method: "GET", path: "/accounts/{account_id}/instance_types"},
	// curl: --data-raw '{"instance_type_id" : "gateway-prod.61616" }'
	{method: "POST", path: "/accounts/{account_id}/servers/{server_id}/update_persistent_desktop_instance_type", params: "j:instance_type_id"},
	{method: "GET", path: "/accounts/{account_id}/applications"},
	{method: "GET", path: "/accounts/{account_id}/session_reports"},
	{method: "GET", path: "/accounts/{account_id}/active_sessions"},
	{method: "GET", path: "/accounts/{account_id}/recent_sessions", params: "q:from_date q:to_date"},
	{method: "GET", path: "/accounts/{account_id}/sessions/{session_id}"},
	{method: "GET", path: "/accounts/{account_id}/session-trails", params: trailParams},
	{method: "GET", path: "/accounts/{account_id}/audit-trails", params: auditParams},
	// terminal_configuration_id: table, "Search Query" (the curl example
	// omits it); options: curl --data-raw '{"options": {...}}'.
	{method: "POST", path: "/sessions/start", params: "q:terminal_configuration_id j:options{}"},
	{method: "DELETE", path: "/accounts/{account_id}/sessions/{session_id}"},
	{method: "GET", path: "/accounts/{account_id}/sandbox/status"},
	{method: "POST", path: "/accounts/{account_id}/sandbox/start"},
	{method: "POST", path: "/accounts/{account_id}/sandbox/reboot"},
	{method: "POST", path: "/accounts/{account_id}/sandbox/stop"},
	{method: "GET", path: "/accounts/{account_id}/pools"},
	{method: "GET", path: "/accounts/{account_id}/elasticity"},
	{method: "GET", path: "/accounts/{persistent_account_id}/persistent_desktop_elasticity_settings"},
	{method: "GET", path: "/accounts/{persistent_account_id}/persistent_desktop_backups", params: "q:offset q:limit"},
	{method: "GET", path: "/accounts/{persistent_account_id}/persistent_desktop_servers", params: "q:offset q:limit"},
	{method: "GET", path: "/accounts/{account_id}/logged_in_users", params: "q:offset q:limit q:search"},
	{method: "POST", path: "/accounts/{persistent_account_id}/servers/{server_external_id}/unassign"},
	// Table: user_uuid "URL", but the path has no slot and the curl
	// example sends nothing; the query is the only URL place left.
	{method: "POST", path: "/accounts/{persistent_account_id}/servers/{server_external_id}/reassign", params: "q:user_uuid"},
	// curl: --data-raw '{"id": "server_id", "account_server_reboot": {"force": "false"}}'
	{method: "POST", path: "/accounts/{account_id}/servers/reboot", params: "j:id j:account_server_reboot{}"},
	// curl (start): --data-raw '{"account_server_stop": {"force": "false"}}'
	{method: "POST", path: "/accounts/{account_id}/servers/{server_id}/start", params: "j:account_server_stop{}"},
	{method: "POST", path: "/accounts/{account_id}/servers/{server_id}/stop", params: "j:account_server_stop{}"},
	// curl: .../terminate?force=false
	{method: "POST", path: "/accounts/{persistent_account_id}/servers/{server_external_id}/terminate", params: "q:force"},
	{method: "GET", path: "/pools/{pool_id}/elasticity_settings"},
	// curl: -F min_servers=5 -F buffer_servers=0 -F max_servers=80
	{method: "POST", path: "/pools/{pool_id}/elasticity_settings", params: "f:min_servers f:buffer_servers f:max_servers"},
	{method: "POST", path: "/accounts/{persistent_account_id}/persistent_desktop_elasticity_settings", params: "f:number_of_backups_to_save f:max_users f:keep_instances_running_for_new_users"},
	{method: "GET", path: "/accounts/{account_id}/elasticity-logs", params: "q:instance_type_name q:from_date q:to_date"},
	{method: "GET", path: "/accounts/{account_id}/roles"},
	// curl: ?from_date=..&to_date=..&skip_user_idps[]=a&skip_user_idps[]=b
	{method: "GET", path: "/accounts/{account_id}/user_activities", params: "q:from_date q:to_date q:order q:order_by q:skip_user_idps[]"},
	{method: "GET", path: "/accounts/{account_id}/servers"},
	// curl: .../clone -F join_domain=false
	{method: "POST", path: "/accounts/{target_account_id}/pools/{source_pool_id}/clone", params: "f:join_domain"},
	{method: "GET", path: "/accounts/{id}/task/{task_id}"},
	// curl: -H "resolution_type: by_day" ".../usage?from_date=...&to_date=..."
	{method: "GET", path: "/accounts/{id}/usage", params: "q:from_date q:to_date h:resolution_type q:server_type q:pool_id q:instance_type_id"},
	{method: "GET", path: "/accounts/{id}/disk_volume_usage", params: "q:from_date q:to_date q:server_type q:resolution_type"},
	// No method line; curl -X POST (see TestPlacementTableMatchesCatalog).
	{method: "POST", path: "/accounts/{id}/api_authorization_rules"},
	// curl: -F organization_id=... -F 'name=...' ... -F disk_size=64
	{method: "POST", path: "/accounts", params: "f:organization_id f:name f:url_slug f:cloud_service_external_id f:data_center_external_id " +
		"f:image_family f:sandbox_instance_type_id f:master_image_id f:disk_size"},
	{method: "POST", path: "/accounts/{id}/launchpad", params: "f:name f:url_slug f:kind"},
	// Method line /account/, curl /accounts/: the curl example is followed.
	{method: "POST", path: "/accounts/{id}/onboard_app", params: "j:arguments j:name j:path j:working_directory j:icon_base64"},
	{method: "POST", path: "/accounts/{id}/onboard_applications", params: "j:applications[]"},
	{method: "GET", path: "/accounts/{account_id}/launchpads", params: "q:offset q:limit"},
	{method: "GET", path: "/accounts/{account_id}/launchpads/{launchpad_id}"},
	// Table: "application_id, and order (optional)"; curl sends application_id.
	{method: "POST", path: "/launchpads/{launchpad_id}/toggle_application", params: "j:application_id j:order"},
	{method: "POST", path: "/launchpads/{launchpad_id}/toggle_pool", params: "j:pool_id"},
	// curl: .../user_volumes/?statuses=detached
	{method: "GET", path: "/accounts/{account_id}/user_volumes", params: "q:offset q:limit q:statuses"},
	{method: "DELETE", path: "/accounts/{account_id}/user_volumes", params: "j:user_volume_ids[]"},
	{method: "GET", path: "/accounts/{account_id}/user_volumes_backups"},
	{method: "DELETE", path: "/accounts/{account_id}/user_volumes_backups", params: "j:user_volume_backup_ids[]"},
	{method: "POST", path: "/accounts/{account_id}/user_volume_backups/{user_volume_backup_id}/restore"},
	{method: "POST", path: "/accounts/{account_id}/update_account_maintenance_mode", params: "j:under_maintenance j:maintenance_message"},
	{method: "POST", path: "/accounts/{account_id}/change_deployment_group", params: "j:upgrade_group_id"},
	// Method line POST; the curl example's -X GET with a body cannot be a restore.
	{method: "POST", path: "/servers/{server_external_id}/restore_persistent_desktop/{backup_external_id}", params: "j:force_restore_from_replica"},

	// ---- Organization endpoints ----
	{method: "GET", path: "/organizations", params: "q:name q:show_deleted q:order q:order_by q:offset q:limit"},
	{method: "GET", path: "/organizations/{organization_id}"},
	{method: "GET", path: "/organizations/{organization_id}/audit-trails", params: auditParams},
	{method: "GET", path: "/organizations/{organization_id}/session-trails", params: trailParams},
	{method: "GET", path: "/organizations/{organization_id}/api_authorization_rules"},
	{method: "GET", path: "/organizations/{organization_id}/roles", params: "q:category"},
	{method: "GET", path: "/organizations/{organization_id}/cloud_services", params: "q:cloud_provider_id q:active q:omit_default"},
	{method: "GET", path: "/organizations/{organization_id}/elasticity"},
	{method: "GET", path: "/organizations/{organization_id}/settings"},
	{method: "GET", path: "/organizations/{organization_id}/usage", params: usageParams},
	{method: "GET", path: "/organizations/{organization_id}/disk_volume_usage", params: diskUsageParams},
	{method: "GET", path: "/organizations/{organization_id}/cloud_services/{external_cloud_service_id}/master_images", params: "q:external_data_center_id"},
	{method: "GET", path: "/organizations/{organization_id}/user_activities", params: "q:from_date q:to_date q:order q:order_by q:skip_user_idps[]"},

	// ---- Customer endpoints ----
	{method: "GET", path: "/customers"},
	// Table: name "URL" (no slot in the path): the query.
	{method: "GET", path: "/customers/{customer_id}/accounts", params: "q:name q:active q:organization_id q:offset q:limit q:order q:order_by"},
	{method: "GET", path: "/customers/{customer_id}/audit-trails", params: auditParams},
	{method: "GET", path: "/customers/{customer_id}/session-trails", params: trailParams},
	{method: "GET", path: "/customers/{customer_id}/api_authorization_rules"},
	{method: "GET", path: "/customers/{customer_id}/cloud_services", params: "q:cloud_provider_id q:active q:omit_default"},
	{method: "GET", path: "/customers/{customer_id}/elasticity"},
	{method: "GET", path: "/customers/{customer_id}/settings"},
	{method: "GET", path: "/customers/{customer_id}/usage", params: usageParams},
	{method: "GET", path: "/customers/{customer_id}/disk_volume_usage", params: diskUsageParams},
	{method: "GET", path: "/customers/{customer_id}/cloud_services/{external_cloud_service_id}/master_images", params: "q:external_data_center_id"},
	{method: "GET", path: "/customers/{customer_id}/user_activities", params: "q:from_date q:to_date q:order q:order_by q:skip_user_idps[]"},

	// ---- Infrastructure endpoints ----
	{method: "GET", path: "/cloud_providers"},
	{method: "GET", path: "/datacenters", params: "q:external_cloud_service_id q:external_cloud_provider_id"},
	// curl: ?external_data_center_id=...&cloud_provider_name=amazon
	{method: "GET", path: "/image_families", params: "q:cloud_provider_name q:byo q:external_data_center_id"},
	{method: "GET", path: "/cloud_services", params: "q:organization_id q:name q:cloud_provider_name q:active q:omit_default"},
	{method: "GET", path: "/cloud_services/{cloud_service_id}/vpcs", params: "q:datacenter_id"},

	// ---- v1alpha (002) ----
	{api: "v1alpha", method: "GET", path: "/accounts"},
	{api: "v1alpha", method: "GET", path: "/accounts/{account_id}/sessions"},
	{api: "v1alpha", method: "GET", path: "/accounts/{account_id}/recent_sessions"},
	// "GET /v1alpha/accounts/xxxxxxxxxx/usage?date_from=2016-08-10&date_to=2016-08-11"
	{api: "v1alpha", method: "GET", path: "/accounts/{account_id}/usage", params: "q:date_from q:date_to"},
	{api: "v1alpha", method: "GET", path: "/accounts/{account_id}/team_members"},
	{api: "v1alpha", method: "GET", path: "/accounts/{account_id}/applications"},
}

const (
	trailParams     = "q:search q:session_start q:session_end q:instance_type q:pool_group_type q:pool_id q:offset q:limit q:order q:order_by"
	auditParams     = "q:search q:kind q:from_date q:to_date q:offset q:limit q:order q:order_by"
	usageParams     = "q:from_date q:to_date q:resolution_type q:server_type q:pool_id q:instance_type_id q:datacenter_id q:skip_if_byo_account"
	diskUsageParams = "q:from_date q:to_date q:resolution_type q:server_type q:disk_volume_type_id q:datacenter_id q:skip_if_byo_account"
)

// Where a parameter travels.
const (
	locQuery  = "query"
	locForm   = "form"
	locJSON   = "json"
	locHeader = "header"
)

// Shapes of a parameter value.
const (
	shapeScalar = ""
	shapeList   = "list"
	shapeObject = "object"
)

// placedParam is one parsed entry of a docPlacement.
type placedParam struct {
	Name, Loc, Shape string
}

// placement is a parsed docPlacement.
type placement struct {
	API, Method, Path, Wrap string
	Params                  map[string]placedParam
}

var placementLoc = map[string]string{"q": locQuery, "f": locForm, "j": locJSON, "h": locHeader}

func parsePlacement(d docPlacement) (*placement, error) {
	p := &placement{API: d.api, Method: d.method, Path: d.path, Wrap: d.wrap, Params: map[string]placedParam{}}
	for _, tok := range strings.Fields(d.params) {
		loc, name, ok := strings.Cut(tok, ":")
		if !ok || placementLoc[loc] == "" {
			return nil, fmt.Errorf("%s %s: bad entry %q", d.method, d.path, tok)
		}
		shape := shapeScalar
		switch {
		case strings.HasSuffix(name, "[]"):
			shape, name = shapeList, strings.TrimSuffix(name, "[]")
		case strings.HasSuffix(name, "{}"):
			shape, name = shapeObject, strings.TrimSuffix(name, "{}")
		}
		if _, dup := p.Params[name]; dup {
			return nil, fmt.Errorf("%s %s: %s listed twice", d.method, d.path, name)
		}
		p.Params[name] = placedParam{Name: name, Loc: placementLoc[loc], Shape: shape}
	}
	return p, nil
}

// placements parses the table, keyed by API, method and path shape.
func placements(extra ...docPlacement) (map[string]*placement, error) {
	out := make(map[string]*placement, len(placementTable))
	for _, d := range append(append([]docPlacement(nil), placementTable...), extra...) {
		p, err := parsePlacement(d)
		if err != nil {
			return nil, err
		}
		k := placementKey(d.api, d.method, d.path)
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("%s listed twice", k)
		}
		out[k] = p
	}
	return out, nil
}

func placementKey(api, method, path string) string {
	if api == "" {
		api = "v1"
	}
	return api + " " + shapeKey(method, path)
}

// checkPlacement answers whether a request puts every parameter where the
// docs do: nil, or the reason for a 400 (naming the parameter and where
// it was expected). A request to an endpoint without an entry may carry no
// parameters at all.
func checkPlacement(p *placement, r *http.Request, body []byte) error {
	if p == nil {
		p = &placement{Params: map[string]placedParam{}}
	}
	want := func(name, got string) error {
		pp, ok := p.Params[name]
		switch {
		case !ok:
			return fmt.Errorf("unknown parameter %q in the %s: the docs list %s", name, where(got), p.names())
		case pp.Loc != got:
			return fmt.Errorf("parameter %q belongs in the %s, where the docs' example sends it, not in the %s", name, where(pp.Loc), where(got))
		}
		return nil
	}
	checkFlat := func(vals url.Values, loc string) error {
		for _, key := range sortedValueKeys(vals) {
			name, shape, err := bracketShape(key)
			if err != nil {
				return fmt.Errorf("%s key %q: %v", where(loc), key, err)
			}
			if err := want(name, loc); err != nil {
				return err
			}
			if pp := p.Params[name]; pp.Shape != shape {
				return fmt.Errorf("parameter %q is %s in the docs, sent as %s (key %q)", name, shapeWord(pp.Shape), shapeWord(shape), key)
			}
		}
		return nil
	}
	if err := checkFlat(r.URL.Query(), locQuery); err != nil {
		return err
	}
	for name, pp := range p.Params {
		if pp.Loc == locHeader {
			continue
		}
		if r.Header.Get(name) != "" && isParamHeader(name) {
			return fmt.Errorf("parameter %q belongs in the %s, not in a request header", name, where(pp.Loc))
		}
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil
	}
	mt, mp, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(body, &obj); err != nil {
			return fmt.Errorf("the JSON body is not an object: %v", err)
		}
		if p.Wrap != "" && len(obj) > 0 {
			inner, ok := obj[p.Wrap]
			if !ok || len(obj) != 1 {
				return fmt.Errorf("the docs' example wraps the body in %q: send {%q: {...}}, got keys %s", p.Wrap, p.Wrap, strings.Join(sortedRawKeys(obj), ", "))
			}
			obj = nil
			if err := json.Unmarshal(inner, &obj); err != nil {
				return fmt.Errorf("%q is not an object: %v", p.Wrap, err)
			}
		}
		for _, name := range sortedRawKeys(obj) {
			if err := want(name, locJSON); err != nil {
				return err
			}
			if pp := p.Params[name]; pp.Shape != jsonShape(obj[name]) && !bytes.Equal(bytes.TrimSpace(obj[name]), []byte("null")) {
				return fmt.Errorf("parameter %q is %s in the docs, sent as %s", name, shapeWord(pp.Shape), shapeWord(jsonShape(obj[name])))
			}
		}
	case mt == "multipart/form-data":
		form, err := multipart.NewReader(bytes.NewReader(body), mp["boundary"]).ReadForm(maxBody)
		if err != nil {
			return fmt.Errorf("malformed multipart form: %v", err)
		}
		defer func() { _ = form.RemoveAll() }()
		return checkFlat(url.Values(form.Value), locForm)
	case mt == "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return fmt.Errorf("malformed form body: %v", err)
		}
		return checkFlat(vals, locForm)
	default:
		return fmt.Errorf("a body of type %q: the docs send JSON (--data-raw) or form data (-F)", mt)
	}
	return nil
}

// isParamHeader tells a header that could be a parameter from the ones
// every request carries.
func isParamHeader(name string) bool {
	switch http.CanonicalHeaderKey(name) {
	case "Accept", "Content-Type", "Content-Length", "User-Agent", "Host", "Accept-Encoding", "Connection":
		return false
	}
	return !strings.HasPrefix(http.CanonicalHeaderKey(name), "X-Frame-")
}

// bracketShape splits name, name[] and name[k]... into the parameter name
// and the shape the key implies.
func bracketShape(key string) (name, shape string, err error) {
	i := strings.IndexByte(key, '[')
	if i < 0 {
		return key, shapeScalar, nil
	}
	if i == 0 || !strings.HasSuffix(key, "]") {
		return "", "", fmt.Errorf("malformed bracket key")
	}
	if strings.HasPrefix(key[i:], "[]") {
		return key[:i], shapeList, nil
	}
	return key[:i], shapeObject, nil
}

func jsonShape(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) > 0 && raw[0] == '[':
		return shapeList
	case len(raw) > 0 && raw[0] == '{':
		return shapeObject
	}
	return shapeScalar
}

func shapeWord(s string) string {
	switch s {
	case shapeList:
		return "a list"
	case shapeObject:
		return "an object"
	}
	return "a single value"
}

func where(loc string) string {
	switch loc {
	case locQuery:
		return "query string"
	case locForm:
		return "form body"
	case locJSON:
		return "JSON body"
	case locHeader:
		return "request headers"
	}
	return loc
}

func (p *placement) names() string {
	if len(p.Params) == 0 {
		return "no parameters besides the path"
	}
	var out []string
	for _, pp := range p.Params {
		out = append(out, fmt.Sprintf("%s (%s)", pp.Name, where(pp.Loc)))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func sortedValueKeys(v url.Values) []string {
	out := make([]string, 0, len(v))
	for k := range v {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sortedRawKeys(m map[string]json.RawMessage) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
