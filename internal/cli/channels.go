package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/pulpo-deploy/pulpo/internal/model"
)

// channelCommand manages a project's channels.
func (a *app) channelCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "channel", Aliases: []string{"channels"},
		Short: "Manage a project's channels: a lifecycle and package version rules per kind of release"}
	var project string
	cmd.PersistentFlags().StringVarP(&project, "project", "p", "", "project (name or id, required)")

	var lifecycle, description, versionRange, tag string
	var packages []string
	var isDefault bool
	create := &cobra.Command{Use: "create NAME", Short: "Create a channel", Args: cobra.ExactArgs(1),
		Long: `Create a channel. A release follows one channel: its lifecycle (the
project's when none is given) and its rule on package versions. The rule
applies to the --package ids (or step names): --version-range is NuGet
style, [2.0,3.0) for 2.0 up to but not 3.0, (,2.0] for up to 2.0, [2.1.3]
for exactly, 2.0 for 2.0 or later; --tag is a regular expression the
pre-release tag must match (^$ for none, ^beta for betas).

A release created without a channel goes to the default channel when it
takes the package versions asked for, else to the first channel that does;
without versions asked for, each package's newest version the channel
takes is chosen. The project's first channel is its default.`,
		Example: `  pulpo channel create -p shop Stable --package shop-web --tag '^$'
  pulpo channel create -p shop Beta --package shop-web --tag '^beta' --lifecycle "Dev only"
  pulpo channel create -p shop Hotfix --package shop-web --version-range '[2.1,2.2)' --lifecycle "Straight to Production"`,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := a.project(cmd, project)
			if err != nil {
				return err
			}
			ch := model.Channel{ProjectID: p.ID, Name: args[0], Description: description, IsDefault: isDefault}
			if lifecycle != "" {
				lc, err := c.FindLifecycle(cmd.Context(), lifecycle)
				if err != nil {
					return err
				}
				ch.LifecycleID = lc.ID
			}
			if len(packages) > 0 || versionRange != "" || tag != "" {
				ch.Rules = []model.ChannelRule{{Packages: packages, VersionRange: versionRange, Tag: tag}}
			}
			ch, err = c.CreateChannel(cmd.Context(), ch)
			if err != nil {
				return err
			}
			return a.print(ch, func() {
				def := ""
				if ch.IsDefault {
					def = ", the default"
				}
				fmt.Fprintf(a.stdout, "Created channel %q (%s%s)\n", ch.Name, ch.ID, def)
			})
		}}
	create.Flags().StringVar(&lifecycle, "lifecycle", "", "the lifecycle its releases follow (default the project's)")
	create.Flags().StringVar(&description, "description", "", "what the channel is for")
	create.Flags().StringArrayVar(&packages, "package", nil, "a package id (or step name) the rule applies to (repeat)")
	create.Flags().StringVar(&versionRange, "version-range", "", "versions the packages may have, e.g. [2.0,3.0)")
	create.Flags().StringVar(&tag, "tag", "", "a regular expression the pre-release tag must match, e.g. ^beta")
	create.Flags().BoolVar(&isDefault, "default", false, "make it the project's default channel")

	list := &cobra.Command{Use: "list", Short: "List a project's channels", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := a.project(cmd, project)
			if err != nil {
				return err
			}
			chs, err := c.Channels(cmd.Context(), p.ID)
			if err != nil {
				return err
			}
			return a.print(chs, func() {
				rows := make([][]string, 0, len(chs))
				for _, ch := range chs {
					var rules []string
					for _, r := range ch.Rules {
						rule := strings.Join(r.Packages, ",")
						if r.VersionRange != "" {
							rule += " " + r.VersionRange
						}
						if r.Tag != "" {
							rule += " tag " + r.Tag
						}
						rules = append(rules, rule)
					}
					def := ""
					if ch.IsDefault {
						def = "default"
					}
					lc := ch.LifecycleID
					if lc == "" {
						lc = "(project's)"
					}
					rows = append(rows, []string{ch.ID, ch.Name, def, lc, strings.Join(rules, "; ")})
				}
				a.table([]string{"ID", "NAME", "DEFAULT", "LIFECYCLE", "RULES"}, rows)
			})
		}}
	del := &cobra.Command{Use: "delete CHANNEL", Short: "Delete a channel no release uses", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, p, err := a.project(cmd, project)
			if err != nil {
				return err
			}
			chs, err := c.Channels(cmd.Context(), p.ID)
			if err != nil {
				return err
			}
			for _, ch := range chs {
				if ch.ID == args[0] || model.SameName(ch.Name, args[0]) {
					if err := c.DeleteChannel(cmd.Context(), ch.ID); err != nil {
						return err
					}
					fmt.Fprintf(a.stdout, "Deleted channel %q\n", ch.Name)
					return nil
				}
			}
			return fmt.Errorf("project %s has no channel %q", p.Name, args[0])
		}}
	cmd.AddCommand(create, list, del)
	return cmd
}
