CREATE INDEX "jobs_state_id" ON "jobs" USING btree ("state","id");--> statement-breakpoint
CREATE INDEX "jobs_owner_id" ON "jobs" USING btree ("owner","id");--> statement-breakpoint
CREATE INDEX "jobs_type_id" ON "jobs" USING btree ("type","id");--> statement-breakpoint
CREATE INDEX "jobs_lifecycle_id" ON "jobs" USING btree ("lifecycle","id");--> statement-breakpoint
CREATE INDEX "jobs_lifecycle_state_id" ON "jobs" USING btree ("lifecycle","state","id");