"""The admin pages under /admin: login, overview, sources, outbox, recipients.

Mount them with `intracast.admin.web.add_admin_routes(app, Admin(...))`
(`intracast.admin.context.Admin` holds what the pages read and do). This
module imports nothing, because `intracast.config` imports `admin.config`
and the pages import `intracast.config`.
"""
